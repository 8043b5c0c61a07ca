// Package dav is the CalDAV (RFC 4791) / CardDAV (RFC 6352) sink on go-webdav: service
// discovery (RFC 6764 well-known URIs, current-user-principal RFC 5397, calendar-home-set,
// addressbook-home-set), collections created with MKCALENDAR or extended MKCOL (RFC 5689)
// carrying a display name and a colour, and conditional PUTs (If-None-Match: * to create,
// If-Match to update; RFC 7232) so that a rerun can never duplicate or overwrite blindly.
//
// go-webdav does discovery, listing and deletion. Three requests are written here on the same
// HTTP client, because go-webdav cannot make them: PUT (its PutCalendarObject/PutAddressObject
// re-encode the object through go-ical/go-vcard, so the bytes sent are not the bytes given, an
// object they cannot parse never reaches the server whose reason we must report, they send no
// If-Match/If-None-Match, and they fail on a weak ETag after a successful write), MKCALENDAR /
// extended MKCOL with properties, and PROPFIND getetag (go-webdav unquotes ETags, and we must
// send them back exactly as the server gave them). Sharing a collection (share.go) is written
// here too: go-webdav has no RFC 3744 ACL and no resource sharing.
package dav

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/load"
)

// Config says how to reach and log in to the target.
type Config struct {
	// URL is the server's base URL; discovery starts at its /.well-known/caldav and
	// /.well-known/carddav. http:// is plaintext: only when the user writes it (loopback tests).
	URL                string
	CAFile             string // extra CA certificates (PEM)
	InsecureSkipVerify bool   // explicit only
	// Auth is "user" (default: each account logs in with its own password from Passwords) or
	// "admin" (AdminUser/AdminPassword write into every account's collections).
	Auth          string
	AdminUser     string
	AdminPassword string
	Passwords     map[string]string
	// PrincipalTemplate locates another user's principal in admin mode, e.g.
	// "/dav/principals/user/{user}/" (Cyrus) or "/{user}/" (Radicale); empty = derive it from
	// the admin's own principal URL by replacing the admin's login with the account.
	PrincipalTemplate string
	HTTPTimeout       time.Duration // per request; default 60 s
	Parallel          int           // concurrent requests per account; default 4
	Logger            *slog.Logger
}

// Sink writes into one CalDAV/CardDAV server. Accounts share one HTTP transport (keep-alive
// connections are reused across accounts).
type Sink struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
}

var _ load.GroupwareSink = (*Sink)(nil)

// New checks cfg and returns a sink. It does not connect.
func New(cfg Config) (*Sink, error) {
	if cfg.URL == "" {
		return nil, errors.New("dav: no server URL")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dav: server URL must be http(s)://host[:port][/path], not %q", cfg.URL)
	}
	if u.User != nil {
		return nil, errors.New("dav: the server URL holds credentials: give them as passwords or an admin login instead")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawQuery, u.Fragment = "", ""
	if cfg.Auth == "" {
		cfg.Auth = "user"
	}
	switch cfg.Auth {
	case "user":
	case "admin":
		if cfg.AdminUser == "" {
			return nil, errors.New("dav: admin mode needs an admin login")
		}
		if cfg.PrincipalTemplate != "" && !strings.Contains(cfg.PrincipalTemplate, "{user}") {
			return nil, fmt.Errorf("dav: principal template %q has no {user}", cfg.PrincipalTemplate)
		}
	default:
		return nil, fmt.Errorf("dav: auth must be user or admin, not %q", cfg.Auth)
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 60 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("dav: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dav: no certificate in CA file %s", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 15 * time.Second,
		MaxIdleConns:        256,
		// Every account keeps up to Parallel connections busy; keep them all alive.
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   cfg.HTTPTimeout,
		// Redirects are followed by hand where they are expected (discovery): Go turns a
		// redirected PROPFIND into a GET, and a redirected PUT would lose its conditions.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sink{cfg: cfg, base: u, hc: hc}, nil
}

// Open discovers account's calendar and address book homes and returns its writer. A refused
// login (401, or 403 on the principal) wraps model.ErrFatal: the credentials or the admin's
// rights are wrong for every account. An account the server does not know, or a missing
// password, wraps model.ErrPermanent; network trouble and 5xx wrap model.ErrRetryable.
func (s *Sink) Open(ctx context.Context, account string) (load.CollectionWriter, error) {
	w, err := s.open(ctx, account)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Close releases idle connections.
func (s *Sink) Close() error {
	s.hc.CloseIdleConnections()
	return nil
}
