// Package imap is the IMAP sink (RFC 3501 / 9051) on go-imap v2: folders with mUTF-7 names and
// SPECIAL-USE (RFC 6154), APPEND with flags and INTERNALDATE, APPENDUID (UIDPLUS, RFC 4315),
// LITERAL+ (RFC 7888) pipelining, and admin logins for integrators (Dovecot master users,
// SASL PLAIN authorization identity).
//
// APPENDs travel on a second connection per account, written by hand (pipe.go): go-imap v2
// waits for a continuation before every literal over 4 KiB even when the server offers
// LITERAL+, and cannot send BINARY literal8 (RFC 3516). On that connection APPENDs are fully
// pipelined with non-synchronising literals, and a message holding NUL or bare CR/LF goes as
// a literal8 where the server offers BINARY, so its bytes stay exact. MULTIAPPEND (RFC 3502)
// is not used: pipelined APPENDs are as fast on the wire and keep one result per message.
package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Config says how to reach and log in to the target.
type Config struct {
	Addr string // host:port
	// TLS is "tls" (implicit, port 993), "starttls" (default) or "none" (plaintext: only when
	// the user asks, e.g. loopback test servers).
	TLS                string
	CAFile             string // extra CA certificates (PEM)
	InsecureSkipVerify bool
	// Auth is "login" (each account with its own password from Passwords), "master" (Dovecot
	// master user: LOGIN "account*AdminUser" AdminPassword) or "authzid" (SASL PLAIN with
	// authorization identity = account, authentication identity = AdminUser).
	Auth            string
	AdminUser       string
	AdminPassword   string
	Passwords       map[string]string
	MasterSeparator string // default "*"
	// Language names the well-known folders the target does not have yet: "en" or "fr".
	Language    string
	FolderNames map[string]string // overrides per well-known name (model.WellKnown*)
	// AppendConnections is the most connections per account that carry APPENDs, each
	// pipelined (default 2; one more carries everything else).
	AppendConnections int
	Logger            *slog.Logger
}

// Sink writes into one IMAP server.
type Sink struct {
	cfg Config
	tls *tls.Config
}

var _ load.Sink = (*Sink)(nil)

// New checks cfg and returns a sink. It does not connect.
func New(cfg Config) (*Sink, error) {
	if cfg.Addr == "" {
		return nil, errors.New("imap: no server address")
	}
	if cfg.TLS == "" {
		cfg.TLS = "starttls"
	}
	switch cfg.TLS {
	case "tls", "starttls", "none":
	default:
		return nil, fmt.Errorf("imap: TLS mode must be tls, starttls or none, not %q", cfg.TLS)
	}
	if cfg.Auth == "" {
		cfg.Auth = "login"
	}
	switch cfg.Auth {
	case "login", "master", "authzid":
	default:
		return nil, fmt.Errorf("imap: auth must be login, master or authzid, not %q", cfg.Auth)
	}
	if cfg.MasterSeparator == "" {
		cfg.MasterSeparator = "*"
	}
	if cfg.AppendConnections <= 0 {
		cfg.AppendConnections = 2
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if _, ok := folderNames[cfg.Language]; !ok {
		return nil, fmt.Errorf("imap: folder language must be en or fr, not %q", cfg.Language)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{cfg: cfg}
	if cfg.TLS != "none" {
		tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("imap: CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("imap: no certificate in CA file %s", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		s.tls = tc
	}
	return s, nil
}

// Open logs in to account and returns its writer. A refused login wraps model.ErrPermanent
// (the account or the credentials are wrong: fix the mapping or the admin login); a network
// failure wraps model.ErrRetryable.
func (s *Sink) Open(ctx context.Context, account string) (load.MailboxWriter, error) {
	w := &writer{s: s, account: account, byID: map[string]string{}, refs: map[string]load.FolderRef{}}
	if _, err := w.client(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// tlsFor returns the TLS configuration with the server name set, for connections made by hand.
func (s *Sink) tlsFor() *tls.Config {
	tc := s.tls.Clone()
	if tc.ServerName == "" {
		if host, _, err := net.SplitHostPort(s.cfg.Addr); err == nil {
			tc.ServerName = host
		}
	}
	return tc
}

// Close releases nothing: every writer owns its connection.
func (s *Sink) Close() error { return nil }

// Normalises reports whether an IMAP server would change these bytes on a plain APPEND (bare
// LF, bare CR or NUL), so the caller can report it instead of letting it pass silently.
func Normalises(body []byte) bool {
	if bytes.IndexByte(body, 0) >= 0 {
		return true
	}
	for i, b := range body {
		switch b {
		case '\n':
			if i == 0 || body[i-1] != '\r' {
				return true
			}
		case '\r':
			if i+1 >= len(body) || body[i+1] != '\n' {
				return true
			}
		}
	}
	return false
}

// folderNames are the names given to well-known folders the target lacks.
var folderNames = map[string]map[string]string{
	"en": {
		model.WellKnownSentItems: "Sent", model.WellKnownDrafts: "Drafts", model.WellKnownDeletedItems: "Trash",
		model.WellKnownJunkEmail: "Junk", model.WellKnownArchive: "Archive", model.WellKnownOutbox: "Outbox",
	},
	"fr": {
		model.WellKnownSentItems: "Éléments envoyés", model.WellKnownDrafts: "Brouillons", model.WellKnownDeletedItems: "Éléments supprimés",
		model.WellKnownJunkEmail: "Courrier indésirable", model.WellKnownArchive: "Archives", model.WellKnownOutbox: "Boîte d'envoi",
	},
}
