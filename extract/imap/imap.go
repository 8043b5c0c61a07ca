// Package imap is the IMAP source (RFC 3501 / 9051) on go-imap v2: it reads mailboxes from
// the IMAP servers organisations leave — Exchange's own IMAP, Zimbra, old Dovecot and Cyrus —
// with the same state, resume and delta as the Graph and EWS sources.
//
//   - Logins: one per mailbox, by a master user (Dovecot "user*master"), by SASL PLAIN with an
//     authorization identity (RFC 4616: Cyrus, Zimbra and Dovecot admins), or with each user's
//     own password. IMAP has no directory: the mailboxes are the selected addresses.
//   - Folders by LIST in the personal namespace (RFC 2342), roles by SPECIAL-USE (RFC 6154)
//     or, on servers without it, by the usual names; \Noselect folders are listed (their
//     children need them) but hold nothing.
//   - Messages: the id is UIDVALIDITY, UID and folder name; the change key is the MODSEQ
//     (CONDSTORE, RFC 7162) or a digest of the flags; the cursor of a folder holds its
//     UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the set of UIDs it has seen (cursor.go).
//     A delta pass is one STATUS when nothing changed; else UID SEARCH MODSEQ for the changes
//     and UID SEARCH ALL for the deletions (CONDSTORE), or a FLAGS scan compared with the
//     cursor (without CONDSTORE). A changed UIDVALIDITY is model.ErrCursorExpired.
//   - Bodies by UID FETCH BODY.PEEK[] (never sets \Seen), streamed from the connection, several
//     FETCHes in flight per connection and several connections per mailbox (pool.go).
//
// QRESYNC (VANISHED) is not used: go-imap v2 cannot parse VANISHED responses. UID SEARCH ALL
// answered as an ESEARCH range set costs one round trip per changed folder instead.
package imap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Auth modes.
const (
	// AuthMaster logs in as LOGIN "<user><sep><admin>" with the admin's password (Dovecot
	// master users; the format is configurable for other servers).
	AuthMaster = "master"
	// AuthPlainAuthzid authenticates as the admin with SASL PLAIN and authorization identity
	// = the user (Cyrus and Zimbra admins, Dovecot master users).
	AuthPlainAuthzid = "plain-authzid"
	// AuthUser logs in as each user with the user's own password (Passwords).
	AuthUser = "user"
)

// Config says how to reach and log in to the source server.
type Config struct {
	Addr string // host:port
	// TLS is "tls" (implicit, port 993), "starttls" or "none" (plaintext: loopback only).
	// Empty: "tls" on port 993, else "starttls".
	TLS                string
	CAFile             string // extra CA certificates (PEM) for internal PKIs
	InsecureSkipVerify bool
	// Auth is AuthMaster, AuthPlainAuthzid or AuthUser (default AuthMaster when AdminUser is
	// set, else AuthUser).
	Auth          string
	AdminUser     string
	AdminPassword string
	// Passwords are the users' own passwords by login (AuthUser).
	Passwords map[string]string
	// MasterFormat builds the LOGIN name of AuthMaster from "{user}" and "{admin}"
	// (default "{user}*{admin}", Dovecot's).
	MasterFormat string
	// Mailboxes are the addresses Mailboxes takes when a Selection names none.
	Mailboxes []string
	// Login maps a mailbox address to its IMAP login (nil: the address itself).
	Login func(address string) string
	// Connections is the most connections per mailbox (default 4).
	Connections int
	// Pipeline is the most UID FETCH commands in flight per connection (default 8).
	Pipeline int
	// Batch is how many UIDs one metadata FETCH asks for (default 1000).
	Batch int
	// IdleTimeout closes a connection unused this long (default 30 s).
	IdleTimeout time.Duration
	// NoCondStore ignores CONDSTORE even when the server offers it (tests; servers whose
	// MODSEQ cannot be trusted): deltas then compare every message's flags.
	NoCondStore bool
	// Logger receives connection events (never credentials).
	Logger *slog.Logger
}

// Source reads mail from one IMAP server. It is safe for concurrent use. Close it when done.
type Source struct {
	cfg Config
	tls *tls.Config
	log *slog.Logger

	mu    sync.Mutex
	pools map[string]*pool // by mailbox id
	done  chan struct{}
	stats statsCounters
	debug io.Writer // tests: the protocol exchange (holds credentials)
	// without are capabilities ignored although the server offers them (tests: a server
	// like Exchange's IMAP, with none of the extensions).
	without map[imap.Cap]bool
}

// has reports whether c's server offers capability x (and it is not ignored).
func (s *Source) has(c *conn, x imap.Cap) bool {
	return !s.without[x] && c.caps.Has(x)
}

var _ extract.Source = (*Source)(nil)

// New checks cfg and returns a Source. It does not connect: bad credentials surface on
// Mailboxes. A bad configuration wraps model.ErrFatal.
func New(cfg Config) (*Source, error) {
	if cfg.Addr == "" {
		return nil, model.Fatal(errors.New("imap source: no server address (--imap-source-addr host:port)"))
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("imap source: address %q: %w (want host:port)", cfg.Addr, err))
	}
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
		if port == "993" {
			cfg.TLS = "tls"
		}
	}
	switch cfg.TLS {
	case "tls", "starttls":
	case "none":
		if !isLoopback(host) {
			return nil, model.Fatal(fmt.Errorf("imap source: TLS none sends passwords in clear: it is allowed to a loopback address only, not %s (use tls or starttls)", host))
		}
	default:
		return nil, model.Fatal(fmt.Errorf("imap source: TLS mode must be tls, starttls or none, not %q", cfg.TLS))
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthUser
		if cfg.AdminUser != "" {
			cfg.Auth = AuthMaster
		}
	}
	switch cfg.Auth {
	case AuthMaster, AuthPlainAuthzid:
		if cfg.AdminUser == "" || cfg.AdminPassword == "" {
			return nil, model.Fatal(fmt.Errorf("imap source: auth %s needs the admin user and its password", cfg.Auth))
		}
	case AuthUser:
	default:
		return nil, model.Fatal(fmt.Errorf("imap source: auth must be master, plain-authzid or user, not %q", cfg.Auth))
	}
	if cfg.MasterFormat == "" {
		cfg.MasterFormat = "{user}*{admin}"
	}
	if !strings.Contains(cfg.MasterFormat, "{user}") || !strings.Contains(cfg.MasterFormat, "{admin}") {
		return nil, model.Fatal(fmt.Errorf("imap source: master login format %q must hold {user} and {admin}", cfg.MasterFormat))
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.Pipeline <= 0 {
		cfg.Pipeline = 8
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, log: cfg.Logger, pools: map[string]*pool{}, done: make(chan struct{})}
	if cfg.TLS != "none" {
		tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12, ServerName: host}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, model.Fatal(fmt.Errorf("imap source: CA file: %w", err))
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, model.Fatal(fmt.Errorf("imap source: no certificate in CA file %s", cfg.CAFile))
			}
			tc.RootCAs = pool
		}
		s.tls = tc
	}
	go s.janitor()
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close logs out of every connection.
func (s *Source) Close() error {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.done)
	pools := s.pools
	s.pools = map[string]*pool{}
	s.mu.Unlock()
	for _, p := range pools {
		p.closeAll()
	}
	return nil
}

// janitor closes connections idle for longer than IdleTimeout.
func (s *Source) janitor() {
	t := time.NewTicker(s.cfg.IdleTimeout / 3)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			// Pools stay (a few fields: the folders listed \Noselect, the connection
			// limit learnt); their idle connections go.
			for _, p := range s.pools {
				p.closeIdle(now.Add(-s.cfg.IdleTimeout))
			}
			s.mu.Unlock()
		}
	}
}

// login returns the IMAP login of a mailbox address.
func (s *Source) login(address string) string {
	if s.cfg.Login != nil {
		return s.cfg.Login(address)
	}
	return address
}

// pool returns the connection pool of mbx.
func (s *Source) pool(mbx model.Mailbox) *pool {
	id := mbx.ID
	if id == "" {
		id = strings.ToLower(mbx.Address)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[id]
	if p == nil {
		addr := mbx.Address
		if addr == "" {
			addr = id
		}
		p = newPool(s, s.login(addr))
		s.pools[id] = p
	}
	return p
}

// Mailboxes logs in to each selected mailbox (sel, else Config.Mailboxes) to prove that it
// exists. IMAP has no directory: with no address at all it is an error wrapping
// model.ErrFatal. A login refused for every mailbox is model.ErrFatal (the admin user or its
// password is wrong); refused for some only, the error wraps model.ErrNotFound and names them.
func (s *Source) Mailboxes(ctx context.Context, sel extract.Selection) ([]model.Mailbox, error) {
	addrs := sel.Addresses
	if len(addrs) == 0 {
		addrs = s.cfg.Mailboxes
	}
	if len(addrs) == 0 {
		return nil, model.Fatal(errors.New("imap source: IMAP cannot list the server's mailboxes: choose them with --mailbox or --mapping"))
	}
	var uniq []string
	seen := map[string]bool{}
	for _, a := range addrs {
		k := strings.ToLower(strings.TrimSpace(a))
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		uniq = append(uniq, strings.TrimSpace(a))
	}
	type result struct {
		err error
	}
	var accounts map[string]bool
	if s.cfg.Auth == AuthPlainAuthzid {
		if l, ok := s.accounts(ctx); ok {
			accounts = l
		}
	}
	res := make([]result, len(uniq))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	keep := len(uniq) <= 32 // keep the proving connection for small runs: Folders comes next
	for i, a := range uniq {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			mbx := model.Mailbox{ID: strings.ToLower(a), Address: a}
			if accounts != nil {
				if !accounts[strings.ToLower(s.login(a))] {
					// Not even a login for it: servers that create an account at its first
					// login (Cyrus' autocreate) would make one.
					res[i].err = fmt.Errorf("%q is not among the accounts %s lists to its admin: %w", a, s.cfg.Addr, errNoAccount)
					return
				}
			}
			p := s.pool(mbx)
			c, err := p.dial(ctx)
			if err != nil {
				res[i].err = err
				return
			}
			// An admin acting for a user may be let in even when the user has no account
			// (Cyrus): an account has an INBOX.
			if _, err := c.c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
				c.close()
				var ie *imap.Error
				if errors.As(err, &ie) {
					res[i].err = fmt.Errorf("%q has no INBOX: %s: %w", a, ie.Text, errNoAccount)
				} else {
					res[i].err = model.Retryable(fmt.Errorf("STATUS INBOX of %q: %w", a, err))
				}
				return
			}
			if keep {
				p.adopt(c)
			} else {
				c.close()
			}
		}()
	}
	wg.Wait()
	var out []model.Mailbox
	var refused, failed, absent []string
	var firstErr error
	for i, a := range uniq {
		switch err := res[i].err; {
		case err == nil:
			out = append(out, model.Mailbox{ID: strings.ToLower(a), Address: a, DisplayName: a, Kind: "user"})
		case errors.Is(err, errRefused):
			refused = append(refused, a)
		case errors.Is(err, errNoAccount):
			absent = append(absent, a)
		default:
			failed = append(failed, a)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("imap source: %s: %w", strings.Join(failed, ", "), firstErr)
	}
	if len(absent) > 0 {
		return nil, fmt.Errorf("imap source: no account %s on %s: %w", strings.Join(absent, ", "), s.cfg.Addr, model.ErrNotFound)
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		if len(out) == 0 {
			return nil, model.Fatal(fmt.Errorf("imap source: %s refused the login for %s: %s", s.cfg.Addr, strings.Join(refused, ", "), s.authHint()))
		}
		return nil, fmt.Errorf("imap source: %s refused the login for %s (no such account, or %s): %w",
			s.cfg.Addr, strings.Join(refused, ", "), s.authHint(), model.ErrNotFound)
	}
	return out, nil
}

// accounts lists the server's accounts as a Cyrus admin's own session sees them: its
// other-users namespace (RFC 2342) shows every account's INBOX under its login
// ("user/<login>"). ok is false on other servers (whose admins may see only what was shared
// with them) or when the admin cannot log in as itself (Dovecot's master users): then logins
// alone decide. Logins compare without case.
func (s *Source) accounts(ctx context.Context) (logins map[string]bool, ok bool) {
	p := newPool(s, "")
	p.admin = true
	c, err := p.dial(ctx)
	if err != nil {
		return nil, false
	}
	defer func() {
		c.c.Logout().Wait()
		c.close()
	}()
	if !s.has(c, imap.CapNamespace) || !s.has(c, imap.CapID) {
		return nil, false
	}
	// Only a Cyrus admin is known to see every account there; elsewhere the other-users
	// namespace may show only those that shared something.
	if id, err := c.c.ID(&imap.IDData{Name: "bascule"}).Wait(); err != nil || id == nil || !strings.Contains(strings.ToLower(id.Name), "cyrus") {
		return nil, false
	}
	ns, err := c.c.Namespace().Wait()
	if err != nil || len(ns.Other) == 0 || ns.Other[0].Prefix == "" {
		return nil, false
	}
	prefix := ns.Other[0].Prefix
	l, err := c.c.List("", prefix+"%", nil).Collect()
	if err != nil {
		return nil, false
	}
	logins = map[string]bool{}
	for _, d := range l {
		logins[strings.ToLower(strings.TrimPrefix(d.Mailbox, prefix))] = true
	}
	return logins, true
}

// errNoAccount: the login worked but there is no account behind it.
var errNoAccount = errors.New("no such account")

// authHint says what to check when logins are refused, without any secret.
func (s *Source) authHint() string {
	switch s.cfg.Auth {
	case AuthMaster:
		return fmt.Sprintf("check that the accounts exist and that master user %q and its password (--imap-source-password-file or BASCULE_IMAP_SOURCE_PASSWORD) are right", s.cfg.AdminUser)
	case AuthPlainAuthzid:
		return fmt.Sprintf("check that the accounts exist, that %q may act for them (Cyrus: admins or proxyservers; Zimbra: an admin account) and that its password (--imap-source-password-file or BASCULE_IMAP_SOURCE_PASSWORD) is right", s.cfg.AdminUser)
	default:
		return "check that the accounts exist and their passwords in the password file"
	}
}
