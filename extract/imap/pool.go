package imap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/bascule-migrate/bascule/model"
)

// switching is the selected folder of a connection whose EXAMINE is under way.
const switching = "\x00switching"

// errRefused marks a refused login (wrapped with the server's words).
var errRefused = errors.New("login refused")

// conn is one logged-in connection of a mailbox.
type conn struct {
	c        *imapclient.Client
	caps     imap.CapSet
	selected string // folder EXAMINEd ("" = none)
	validity uint32 // its UIDVALIDITY
	inflight int    // commands of callers using it now
	broken   atomic.Bool
	lastUsed time.Time
	dialing  bool
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
	}
}

// pool holds the connections of one mailbox: at most Config.Connections, each with at most
// Config.Pipeline callers at once. A caller asks for a connection with a folder selected;
// connections already on that folder are preferred, a new one is dialled while the limit
// allows, and an idle one is switched (EXAMINE) otherwise.
type pool struct {
	s     *Source
	login string
	admin bool // the admin's own session (no user): Mailboxes' account check

	mu       sync.Mutex
	cond     *sync.Cond
	conns    []*conn
	noselect map[string]bool // folders listed \Noselect
	caps     imap.CapSet     // of the last connection made
	max      int             // connections allowed (lowered when the server refuses more)
}

func newPool(s *Source, login string) *pool {
	p := &pool{s: s, login: login, noselect: map[string]bool{}, max: s.cfg.Connections}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// dial connects and logs in. A refused login wraps errRefused and model.ErrFatal; an
// untrusted certificate wraps model.ErrFatal; a network failure wraps model.ErrRetryable.
func (p *pool) dial(ctx context.Context) (*conn, error) {
	s := p.s
	cfg := &s.cfg
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, model.Retryable(fmt.Errorf("connecting to %s: %w", cfg.Addr, err))
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	opts := &imapclient.Options{TLSConfig: s.tls}
	if s.debug != nil {
		opts.DebugWriter = &prefixWriter{w: s.debug, prefix: fmt.Sprintf("[%s#%d] ", p.login, s.stats.logins.Load())}
	}
	var c *imapclient.Client
	switch cfg.TLS {
	case "tls":
		tc := tlsClient(raw, s)
		if err = tc.HandshakeContext(ctx); err == nil {
			c = imapclient.New(tc, opts)
		}
	case "starttls":
		c, err = imapclient.NewStartTLS(raw, opts)
	default:
		c = imapclient.New(raw, opts)
	}
	if err != nil {
		raw.Close()
		return nil, classifyDial(cfg.Addr, err)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, model.Retryable(fmt.Errorf("%s: no greeting: %w", cfg.Addr, err))
	}
	user := p.login
	switch {
	case p.admin:
		user = cfg.AdminUser
		err = c.Authenticate(sasl.NewPlainClient("", cfg.AdminUser, cfg.AdminPassword))
	case cfg.Auth == AuthMaster:
		name := strings.ReplaceAll(strings.ReplaceAll(cfg.MasterFormat, "{user}", user), "{admin}", cfg.AdminUser)
		err = c.Login(name, cfg.AdminPassword).Wait()
	case cfg.Auth == AuthPlainAuthzid:
		err = c.Authenticate(sasl.NewPlainClient(user, cfg.AdminUser, cfg.AdminPassword))
	default:
		pw, ok := cfg.Passwords[user]
		if !ok {
			c.Close()
			return nil, model.Fatal(fmt.Errorf("no password for %q in the password file", user))
		}
		err = c.Login(user, pw).Wait()
	}
	if err != nil {
		c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			switch {
			case ie.Code == imap.ResponseCodeUnavailable, ie.Code == imap.ResponseCodeLimit, ie.Code == imap.ResponseCodeInUse,
				ie.Type == imap.StatusResponseTypeBye, strings.Contains(strings.ToLower(ie.Text), "connections"):
				// Busy, or too many connections: not a verdict on the credentials.
				return nil, model.Retryable(fmt.Errorf("login as %q: %s", user, strings.TrimSpace(ie.Text)))
			}
			return nil, model.Fatal(fmt.Errorf("login as %q: %s: %w", user, strings.TrimSpace(ie.Text), errRefused))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, model.Retryable(fmt.Errorf("login to %s: %w", cfg.Addr, err))
	}
	caps := c.Caps()
	s.stats.logins.Add(1)
	cn := &conn{c: c, caps: caps, lastUsed: time.Now()}
	p.mu.Lock()
	p.caps = caps
	p.mu.Unlock()
	return cn, nil
}

func tlsClient(raw net.Conn, s *Source) *tls.Conn { return tls.Client(raw, s.tls) }

func classifyDial(addr string, err error) error {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce *x509.CertificateInvalidError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		return model.Fatal(fmt.Errorf("TLS to %s: %w (give the CA with --ca-file)", addr, err))
	}
	return model.Retryable(fmt.Errorf("connecting to %s: %w", addr, err))
}

// adopt puts a connection just made by dial into the pool, idle.
func (p *pool) adopt(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) >= p.max {
		go c.close()
		return
	}
	p.conns = append(p.conns, c)
	p.cond.Broadcast()
}

// acquire returns a connection with folder selected ("" = any state), counted in flight
// until release. It waits while every connection is at the pipeline limit.
func (p *pool) acquire(ctx context.Context, folder string) (*conn, error) {
	cfg := &p.s.cfg
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	for {
		if err := ctx.Err(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.dropBroken()
		var best, idle *conn
		for _, c := range p.conns {
			if c.dialing {
				continue
			}
			if (folder == "" || c.selected == folder) && c.inflight < cfg.Pipeline && (best == nil || c.inflight < best.inflight) {
				best = c
			}
			if c.inflight == 0 && (idle == nil || c.lastUsed.Before(idle.lastUsed)) {
				idle = c
			}
		}
		switch {
		case best != nil && (best.inflight == 0 || len(p.conns) >= p.max):
			best.inflight++
			p.mu.Unlock()
			return best, nil
		case len(p.conns) < p.max:
			c := &conn{dialing: true, inflight: 1}
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			nc, err := p.dial(ctx)
			p.mu.Lock()
			if err != nil {
				p.remove(c)
				p.cond.Broadcast()
				if len(p.conns) > 0 && ctx.Err() == nil && !errors.Is(err, errRefused) {
					// The server takes no more connections for this user (a per-user or
					// per-IP limit): make do with those there are.
					p.max = len(p.conns)
					p.s.log.Warn("imap source: the server refused another connection; going on with fewer",
						"login", p.login, "connections", p.max, "error", err)
					continue
				}
				p.mu.Unlock()
				return nil, err
			}
			c.c, c.caps, c.lastUsed, c.dialing = nc.c, nc.caps, nc.lastUsed, false
			p.mu.Unlock()
			if folder != "" {
				if err := p.examine(ctx, c, folder); err != nil {
					p.release(c)
					return nil, err
				}
			}
			return c, nil
		case best != nil:
			best.inflight++
			p.mu.Unlock()
			return best, nil
		case idle != nil:
			idle.inflight++
			// Nobody may send a command for the old folder until the EXAMINE is done:
			// it would run in the new one.
			idle.selected = switching
			p.mu.Unlock()
			if err := p.examine(ctx, idle, folder); err != nil {
				p.release(idle)
				return nil, err
			}
			return idle, nil
		}
		p.cond.Wait()
	}
}

// examine selects folder read-only on c (which the caller holds alone or with callers of
// the same folder).
func (p *pool) examine(ctx context.Context, c *conn, folder string) error {
	opts := &imap.SelectOptions{ReadOnly: true, CondStore: p.condStore(c)}
	stop := c.watch(ctx)
	data, err := c.c.Select(folder, opts).Wait()
	stop()
	if err != nil {
		p.mu.Lock()
		c.selected, c.validity = "", 0
		p.mu.Unlock()
		return c.classify(err, fmt.Sprintf("EXAMINE %q", folder))
	}
	p.s.stats.selects.Add(1)
	p.mu.Lock()
	c.selected, c.validity = folder, data.UIDValidity
	p.mu.Unlock()
	return nil
}

// view returns the folder c has selected and its UIDVALIDITY.
func (p *pool) view(c *conn) (string, uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return c.selected, c.validity
}

// condStore reports whether CONDSTORE is used on c.
func (p *pool) condStore(c *conn) bool {
	return !p.s.cfg.NoCondStore && p.s.has(c, imap.CapCondStore)
}

// release gives c back; a broken connection is closed and dropped.
func (p *pool) release(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.inflight--
	c.lastUsed = time.Now()
	if c.broken.Load() && c.inflight <= 0 {
		p.remove(c)
		go c.close()
	}
	p.cond.Broadcast()
}

// dropBroken removes broken connections nobody uses. Called with p.mu held.
func (p *pool) dropBroken() {
	for _, c := range p.conns {
		if !c.dialing && c.c != nil {
			select {
			case <-c.c.Closed(): // the server hung up (idle timeout, restart)
				c.broken.Store(true)
			default:
			}
		}
		if c.broken.Load() && c.inflight <= 0 && !c.dialing {
			p.remove(c)
			go c.close()
			p.dropBroken()
			return
		}
	}
}

func (p *pool) remove(c *conn) {
	for i, x := range p.conns {
		if x == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return
		}
	}
}

// closeIdle closes connections unused since before; it reports whether the pool is empty.
func (p *pool) closeIdle(before time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keep []*conn
	for _, c := range p.conns {
		if c.inflight == 0 && !c.dialing && c.lastUsed.Before(before) {
			go func() {
				c.c.Logout().Wait()
				c.close()
			}()
			continue
		}
		keep = append(keep, c)
	}
	p.conns = keep
	return len(p.conns) == 0
}

func (p *pool) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		if c.c != nil {
			c.close()
		}
	}
}

// watch closes the connection if ctx ends before stop is called (a command waiting on a
// server that stopped answering then returns).
func (c *conn) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		c.broken.Store(true)
		c.close()
	})
}

// classify turns a command error on c into a classified one; a connection-level failure
// marks c broken.
func (c *conn) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		text := strings.TrimSpace(ie.Text)
		switch ie.Code {
		case imap.ResponseCodeNonExistent, "EXPUNGEISSUED":
			return fmt.Errorf("%s: %s: %w", what, text, model.ErrNotFound)
		case imap.ResponseCodeUnavailable, imap.ResponseCodeServerBug, imap.ResponseCodeInUse, imap.ResponseCodeLimit:
			return model.Retryable(fmt.Errorf("%s: the server said: %s", what, text))
		}
		if ie.Type == imap.StatusResponseTypeBye {
			c.broken.Store(true)
			return model.Retryable(fmt.Errorf("%s: the server closed the connection: %s", what, text))
		}
		return model.Permanent(fmt.Errorf("%s: the server said: %s", what, text))
	}
	c.broken.Store(true)
	return model.Retryable(fmt.Errorf("%s: %w", what, err))
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(append([]byte(p.prefix), b...))
	return len(b), nil
}
