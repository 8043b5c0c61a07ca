// Package sieve is a ManageSieve client (RFC 5804): list, read, check, upload, activate and
// delete a target account's Sieve scripts (RFC 5228), on Dovecot Pigeonhole and Cyrus
// timsieved.
//
// It is written here rather than taken from a library: the Go ManageSieve clients found
// (github.com/hstern/go-managesieve, "pre-publication, API may change"; the minimal proxy
// client of github.com/migadu/go-managesieve) were young and not available through the
// module proxy this project builds with, and the protocol is small: a line-based exchange of
// atoms, quoted strings and literals, and SASL PLAIN.
//
// Logins mirror load/imap: each account with its own password, a Dovecot master user
// ("account*admin" in SASL PLAIN), or SASL PLAIN with an authorization identity (the account)
// authenticated by an administrator (Dovecot master users, Cyrus admins). TLS is verified
// by default; "none" is for loopback test servers. Passwords never appear in errors or logs.
package sieve

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Config says how to reach and log in to the ManageSieve server.
type Config struct {
	Addr string // host:port (ManageSieve's port is 4190)
	// TLS is "starttls" (default), "tls" (implicit) or "none" (plaintext: loopback test
	// servers only).
	TLS                string
	CAFile             string // extra CA certificates (PEM)
	InsecureSkipVerify bool
	// Auth is "login" (each account with its own password from Passwords), "master" (Dovecot
	// master user: SASL PLAIN as "account*AdminUser" with AdminPassword) or "authzid" (SASL
	// PLAIN with authorization identity = account, authentication identity = AdminUser: a
	// Dovecot master user or a Cyrus admin).
	Auth            string
	AdminUser       string
	AdminPassword   string
	Passwords       map[string]string
	MasterSeparator string // default "*"
	// Timeout bounds each exchange when the caller's context has no deadline (default 60 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Client opens ManageSieve sessions on one server.
type Client struct {
	cfg Config
	tls *tls.Config
}

// New checks cfg and returns a client. It does not connect.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("sieve: no server address")
	}
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	switch cfg.TLS {
	case "tls", "starttls", "none":
	default:
		return nil, fmt.Errorf("sieve: TLS mode must be tls, starttls or none, not %q", cfg.TLS)
	}
	if cfg.Auth == "" {
		cfg.Auth = "login"
	}
	switch cfg.Auth {
	case "login", "master", "authzid":
	default:
		return nil, fmt.Errorf("sieve: auth must be login, master or authzid, not %q", cfg.Auth)
	}
	if (cfg.Auth == "master" || cfg.Auth == "authzid") && cfg.AdminUser == "" {
		return nil, fmt.Errorf("sieve: auth %s needs an admin user", cfg.Auth)
	}
	if cfg.MasterSeparator == "" {
		cfg.MasterSeparator = "*"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg}
	if cfg.TLS != "none" {
		tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			tc.ServerName = host
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("sieve: CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("sieve: no certificate in CA file %s", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		c.tls = tc
	}
	return c, nil
}

// Script is one script of an account.
type Script struct {
	Name   string
	Active bool
}

// Capabilities are what the server announced (RFC 5804 §1.7), after login.
type Capabilities struct {
	Implementation string
	Extensions     []string // the SIEVE capability: Sieve extensions the server runs
	SASL           []string
	StartTLS       bool
	Version        string // "1.0" when the server implements RFC 5804 (CHECKSCRIPT…)
	MaxRedirects   int
	Owner          string
}

// Has reports whether the server runs the Sieve extension ext (e.g. "vacation").
func (c Capabilities) Has(ext string) bool {
	for _, e := range c.Extensions {
		if strings.EqualFold(e, ext) {
			return true
		}
	}
	return false
}

// Error is a refusal by the server: NO with its response code and text.
type Error struct {
	Op   string // the command, e.g. "PUTSCRIPT"
	Code string // RFC 5804 response code when given: NONEXISTENT, ACTIVE, QUOTA/MAXSIZE, TRYLATER, …
	Text string // the server's human-readable reason
}

func (e *Error) Error() string {
	s := e.Op + ": the server said: "
	if e.Code != "" {
		s += "(" + e.Code + ") "
	}
	return s + e.Text
}

// Session is one logged-in connection for one account. Its methods are safe for concurrent
// use (they are serialised on the connection). A broken connection is replaced by a new one
// at the next call.
type Session struct {
	c       *Client
	account string

	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	caps   Capabilities
	broken bool
}

// Open logs in to account. A refused login wraps model.ErrPermanent (wrong account or
// credentials: fix the mapping or the admin login); a network failure wraps
// model.ErrRetryable.
func (c *Client) Open(ctx context.Context, account string) (*Session, error) {
	s := &Session{c: c, account: account}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Capabilities returns what the server announced after login.
func (s *Session) Capabilities() Capabilities {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caps
}

// connect dials, upgrades to TLS, reads the capabilities and authenticates (s.mu held).
func (s *Session) connect(ctx context.Context) error {
	cfg := &s.c.cfg
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if cfg.TLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: s.c.tls}).DialContext(dctx, "tcp", cfg.Addr)
	} else {
		conn, err = d.DialContext(dctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return model.Retryable(fmt.Errorf("sieve: connecting to %s: %w", cfg.Addr, err))
	}
	s.conn, s.r, s.broken = conn, bufio.NewReader(conn), false
	fail := func(err error) error {
		conn.Close()
		s.conn, s.broken = nil, true
		return err
	}
	stop := s.watch(ctx)
	defer stop()
	caps, err := s.readCaps("greeting")
	if err != nil {
		return fail(err)
	}
	if cfg.TLS == "starttls" {
		if !caps.StartTLS {
			return fail(model.Permanent(fmt.Errorf("sieve: %s offers no STARTTLS (use TLS \"tls\", or \"none\" on a trusted network)", cfg.Addr)))
		}
		if _, err := s.cmd("STARTTLS", "STARTTLS"); err != nil {
			return fail(err)
		}
		tc := tls.Client(conn, s.c.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			return fail(model.Retryable(fmt.Errorf("sieve: TLS handshake with %s: %w", cfg.Addr, err)))
		}
		s.conn, s.r = tc, bufio.NewReader(tc)
		// The server announces its capabilities again after STARTTLS (RFC 5804 §2.2).
		if caps, err = s.readCaps("STARTTLS"); err != nil {
			return fail(err)
		}
	}
	if len(caps.SASL) > 0 && !containsFold(caps.SASL, "PLAIN") {
		return fail(model.Permanent(fmt.Errorf("sieve: %s offers no SASL PLAIN (it offers %s)", cfg.Addr, strings.Join(caps.SASL, " "))))
	}
	authz, authc, pw := "", s.account, ""
	switch cfg.Auth {
	case "master":
		authc, pw = s.account+cfg.MasterSeparator+cfg.AdminUser, cfg.AdminPassword
	case "authzid":
		authz, authc, pw = s.account, cfg.AdminUser, cfg.AdminPassword
	default:
		p, ok := cfg.Passwords[s.account]
		if !ok {
			return fail(model.Permanent(fmt.Errorf("sieve: no password for target account %q (add it to the mapping file, or use an admin login)", s.account)))
		}
		pw = p
	}
	ir := base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + authc + "\x00" + pw))
	if err := s.write(`AUTHENTICATE "PLAIN" ` + quote(ir) + "\r\n"); err != nil {
		return fail(err)
	}
	if _, err := s.final("AUTHENTICATE"); err != nil {
		var se *Error
		if errors.As(err, &se) {
			// Never the SASL string: it holds the password.
			return fail(model.Permanent(fmt.Errorf("sieve: login to %s as %q refused: %s", cfg.Addr, s.account, se.Text)))
		}
		return fail(err)
	}
	// Capabilities may differ once logged in (Dovecot adds MAXREDIRECTS, NOTIFY, OWNER).
	if err := s.write("CAPABILITY\r\n"); err != nil {
		return fail(err)
	}
	if caps, err = s.readCaps("CAPABILITY"); err != nil {
		return fail(err)
	}
	s.caps = caps
	return nil
}

// watch applies ctx (or the configured timeout) to the connection until stop is called: a
// deadline, and a cancel that closes the connection so that a blocked read returns.
func (s *Session) watch(ctx context.Context) (stop func()) {
	conn := s.conn
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.c.cfg.Timeout)
	}
	conn.SetDeadline(deadline)
	after := context.AfterFunc(ctx, func() { conn.Close() })
	return func() {
		after()
		conn.SetDeadline(time.Time{})
	}
}

// readCaps reads capability lines up to the final OK.
func (s *Session) readCaps(op string) (Capabilities, error) {
	var caps Capabilities
	for {
		toks, err := s.readLine(op)
		if err != nil {
			return caps, err
		}
		if r, ok := parseResponse(toks); ok {
			if r.status != "OK" {
				return caps, s.refusal(op, r)
			}
			return caps, nil
		}
		if len(toks) == 0 || toks[0].kind != tokString {
			return caps, model.Retryable(fmt.Errorf("sieve: %s: %w: unexpected capability line", op, errProtocol))
		}
		val := ""
		if len(toks) > 1 {
			val = toks[1].s
		}
		switch strings.ToUpper(toks[0].s) {
		case "IMPLEMENTATION":
			caps.Implementation = val
		case "SIEVE":
			caps.Extensions = strings.Fields(val)
		case "SASL":
			caps.SASL = strings.Fields(val)
		case "STARTTLS":
			caps.StartTLS = true
		case "VERSION":
			caps.Version = val
		case "OWNER":
			caps.Owner = val
		case "MAXREDIRECTS":
			fmt.Sscan(val, &caps.MaxRedirects)
		}
	}
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// readLine reads one response line; a connection failure marks the session broken.
func (s *Session) readLine(op string) ([]token, error) {
	toks, err := readLine(s.r)
	if err != nil {
		s.broken = true
		if errors.Is(err, errProtocol) {
			return nil, model.Retryable(fmt.Errorf("sieve: %s: %w", op, err))
		}
		return nil, model.Retryable(fmt.Errorf("sieve: %s: connection lost: %w", op, err))
	}
	return toks, nil
}

func (s *Session) write(line string) error {
	if _, err := io.WriteString(s.conn, line); err != nil {
		s.broken = true
		return model.Retryable(fmt.Errorf("sieve: writing to %s: %w", s.c.cfg.Addr, err))
	}
	return nil
}

// final reads lines up to the final response and returns the lines before it; NO becomes a
// classified *Error, BYE a retryable error.
func (s *Session) final(op string) ([][]token, error) {
	var data [][]token
	for {
		toks, err := s.readLine(op)
		if err != nil {
			return nil, err
		}
		r, ok := parseResponse(toks)
		if !ok {
			data = append(data, toks)
			continue
		}
		if r.status == "OK" {
			if r.code == "WARNINGS" {
				s.c.cfg.Logger.Warn("sieve: the server warns", "op", op, "account", s.account, "warning", r.text)
			}
			return data, nil
		}
		return nil, s.refusal(op, r)
	}
}

// refusal classifies a NO or BYE.
func (s *Session) refusal(op string, r response) error {
	e := &Error{Op: op, Code: r.code, Text: r.text}
	if r.status == "BYE" {
		s.broken = true
		return model.Retryable(e)
	}
	switch {
	case r.code == "TRYLATER":
		return model.Retryable(e)
	case r.code == "NONEXISTENT":
		return model.Permanent(fmt.Errorf("%w: %w", e, model.ErrNotFound))
	}
	return model.Permanent(e)
}

// cmd sends one command line (without CRLF) and waits for its final response.
func (s *Session) cmd(op, line string) ([][]token, error) {
	if err := s.write(line + "\r\n"); err != nil {
		return nil, err
	}
	data, err := s.final(op)
	if err != nil && strings.Contains(line, "+}\r\n") {
		// A server that refuses a command before reading its non-synchronising literal
		// (Cyrus, on a script name it dislikes) takes the literal for the next commands:
		// the connection is no longer in step. The next call reconnects.
		s.broken = true
	}
	return data, err
}

// do runs fn on a live connection under ctx, reconnecting first if the last one broke.
func (s *Session) do(ctx context.Context, fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.conn == nil || s.broken {
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		if err := s.connect(ctx); err != nil {
			return err
		}
	}
	stop := s.watch(ctx)
	defer stop()
	err := fn()
	if err != nil && ctx.Err() != nil {
		s.broken = true
		return model.Retryable(fmt.Errorf("%w (%w)", err, ctx.Err()))
	}
	return err
}

// Scripts lists the account's scripts (LISTSCRIPTS), at most one of them active.
func (s *Session) Scripts(ctx context.Context) ([]Script, error) {
	var out []Script
	err := s.do(ctx, func() error {
		lines, err := s.cmd("LISTSCRIPTS", "LISTSCRIPTS")
		if err != nil {
			return err
		}
		for _, l := range lines {
			if len(l) == 0 || l[0].kind != tokString {
				return model.Retryable(fmt.Errorf("sieve: LISTSCRIPTS: %w: unexpected line", errProtocol))
			}
			sc := Script{Name: l[0].s}
			if len(l) > 1 && l[1].kind == tokAtom && strings.EqualFold(l[1].s, "ACTIVE") {
				sc.Active = true
			}
			out = append(out, sc)
		}
		return nil
	})
	return out, err
}

// Get returns the script called name (GETSCRIPT). A missing script wraps model.ErrNotFound.
func (s *Session) Get(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.do(ctx, func() error {
		lines, err := s.cmd("GETSCRIPT", "GETSCRIPT "+quote(name))
		if err != nil {
			return err
		}
		if len(lines) != 1 || len(lines[0]) != 1 || lines[0][0].kind != tokString {
			return model.Retryable(fmt.Errorf("sieve: GETSCRIPT: %w: no script in the answer", errProtocol))
		}
		out = []byte(lines[0][0].s)
		return nil
	})
	return out, err
}

// Check asks the server whether script is valid (CHECKSCRIPT), without storing it. A script
// the server refuses wraps model.ErrPermanent with the server's text (an *Error). On a
// server without CHECKSCRIPT (no VERSION capability) the script is stored under a temporary
// name and deleted at once, which the server checks the same way.
func (s *Session) Check(ctx context.Context, script []byte) error {
	return s.do(ctx, func() error {
		if s.caps.Version != "" {
			_, err := s.cmd("CHECKSCRIPT", "CHECKSCRIPT "+literal(string(script)))
			return err
		}
		var rnd [6]byte
		rand.Read(rnd[:])
		tmp := "bascule-check-" + hex.EncodeToString(rnd[:])
		if _, err := s.cmd("CHECKSCRIPT", "PUTSCRIPT "+quote(tmp)+" "+literal(string(script))); err != nil {
			return err
		}
		_, err := s.cmd("DELETESCRIPT", "DELETESCRIPT "+quote(tmp))
		return err
	})
}

// Put stores script under name (PUTSCRIPT), replacing a script of that name; the server
// checks it first. A refused script wraps model.ErrPermanent with the server's text (over
// quota: Code "QUOTA…").
func (s *Session) Put(ctx context.Context, name string, script []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	return s.do(ctx, func() error {
		_, err := s.cmd("PUTSCRIPT", "PUTSCRIPT "+quote(name)+" "+literal(string(script)))
		return err
	})
}

// SetActive makes name the active script (SETACTIVE); "" deactivates every script. A missing
// script wraps model.ErrNotFound.
func (s *Session) SetActive(ctx context.Context, name string) error {
	return s.do(ctx, func() error {
		_, err := s.cmd("SETACTIVE", "SETACTIVE "+quote(name))
		return err
	})
}

// Delete removes the script called name (DELETESCRIPT). A missing script is not an error;
// the active script cannot be deleted (the server refuses: model.ErrPermanent, Code ACTIVE):
// deactivate it first.
func (s *Session) Delete(ctx context.Context, name string) error {
	err := s.do(ctx, func() error {
		_, err := s.cmd("DELETESCRIPT", "DELETESCRIPT "+quote(name))
		return err
	})
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	return err
}

// Close logs out and closes the connection.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	if !s.broken {
		s.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := s.write("LOGOUT\r\n"); err == nil {
			s.final("LOGOUT")
		}
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// checkName refuses script names RFC 5804 §1.6 forbids (control characters, invalid UTF-8)
// or that are empty.
func checkName(name string) error {
	if name == "" {
		return model.Permanent(errors.New("sieve: empty script name"))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == '\uFFFD' {
			return model.Permanent(fmt.Errorf("sieve: script name %q holds a forbidden character", name))
		}
	}
	return nil
}
