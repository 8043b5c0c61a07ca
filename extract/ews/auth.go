package ews

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/bascule-migrate/bascule/model"
)

// Authentication methods.
const (
	AuthNTLM  = "ntlm"
	AuthBasic = "basic"
	AuthOAuth = "oauth"
)

// TokenSource gives OAuth bearer tokens (Exchange Online: scope
// https://outlook.office365.com/.default with full_access_as_app). It is called for every
// request and should cache its token until shortly before it expires.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always gives the same token.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// tlsConfig is the TLS configuration: verified by default, with an extra CA file, and
// unverified only when insecure is set.
func tlsConfig(caFile string, insecure bool) (*tls.Config, error) {
	c := &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // only on the user's request
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ews: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ews: CA file %s holds no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// newNetTransport is an HTTP/1.1 transport (NTLM authenticates a connection, which HTTP/2
// multiplexing would break; IIS falls back to HTTP/1.1 for it anyway).
func newNetTransport(tc *tls.Config, maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:          max(maxConns, 2),
		MaxIdleConnsPerHost:   max(maxConns, 2),
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
	}
}

// newAuthTransport returns the round tripper that authenticates every request.
//
// NTLM authenticates a TCP connection, and its three legs (anonymous, negotiate,
// authenticate) must travel on one: the NTLM transport keeps a pool of single-connection
// transports and lends one to a request for its whole exchange (body included), so
// concurrent requests never pick up each other's half-authenticated connection, and an
// authenticated connection is reused by the next request (IIS keeps it authenticated).
func newAuthTransport(method, user, password string, tokens TokenSource, tc *tls.Config, conns int) (http.RoundTripper, error) {
	switch method {
	case AuthNTLM, "":
		if user == "" {
			return nil, errors.New("ews: NTLM needs a user name (DOMAIN\\user or user@domain) and a password")
		}
		return &ntlmPool{user: user, password: password, tc: tc, free: make(chan *drain401, conns), size: conns}, nil
	case AuthBasic:
		if user == "" {
			return nil, errors.New("ews: Basic authentication needs a user name and a password")
		}
		return &basicAuth{base: newNetTransport(tc, conns), user: user, password: password}, nil
	case AuthOAuth:
		if tokens == nil {
			return nil, errors.New("ews: OAuth needs a token source")
		}
		return &bearerAuth{base: newNetTransport(tc, conns), tokens: tokens}, nil
	}
	return nil, fmt.Errorf("ews: unknown authentication %q (want ntlm, basic or oauth)", method)
}

type basicAuth struct {
	base           http.RoundTripper
	user, password string
}

func (b *basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.base.RoundTrip(r)
}

type bearerAuth struct {
	base   http.RoundTripper
	tokens TokenSource
}

func (b *bearerAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.tokens.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, model.Fatal(fmt.Errorf("ews: getting an OAuth token: %w", err))
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return b.base.RoundTrip(r)
}

// ntlmPool lends one single-connection transport per request (see newAuthTransport).
type ntlmPool struct {
	user, password string
	tc             *tls.Config
	free           chan *drain401
	mu             sync.Mutex
	made, size     int
	// wrap, when set (tests), wraps each connection's transport.
	wrap func(http.RoundTripper) http.RoundTripper
}

func (p *ntlmPool) get(ctx context.Context) (*drain401, error) {
	select {
	case t := <-p.free:
		return t, nil
	default:
	}
	p.mu.Lock()
	if p.made < p.size {
		p.made++
		p.mu.Unlock()
		var rt http.RoundTripper = newNetTransport(p.tc, 1)
		if p.wrap != nil {
			rt = p.wrap(rt)
		}
		return &drain401{base: rt}, nil
	}
	p.mu.Unlock()
	select {
	case t := <-p.free:
		return t, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *ntlmPool) put(t *drain401) { p.free <- t }

// drain401 reads a 401 answer's body at once, which gives its connection back: the
// Negotiator keeps the first 401 open during the handshake, and the handshake's next
// leg must travel on that same (single) connection.
//
// It also remembers a transport error: the Negotiator answers the first 401 when a later
// leg fails (a connection dropped during AUTHENTICATE), which must not pass for refused
// credentials.
type drain401 struct {
	base http.RoundTripper
	err  error // the last transport error of the current exchange
}

func (d *drain401) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.base.RoundTrip(req)
	if err != nil {
		d.err = err
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (p *ntlmPool) RoundTrip(req *http.Request) (*http.Response, error) {
	t, err := p.get(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.SetBasicAuth(p.user, p.password) // the Negotiator turns it into NTLM
	t.err = nil
	resp, err := ntlmssp.Negotiator{RoundTripper: t}.RoundTrip(r)
	if err != nil {
		p.put(t)
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && t.err != nil {
		// A leg of the handshake failed on the network: not a refusal.
		resp.Body.Close()
		err := t.err
		p.put(t)
		return nil, fmt.Errorf("NTLM handshake: %w", err)
	}
	resp.Body = &returnBody{rc: resp.Body, done: func() { p.put(t) }}
	return resp, nil
}

// returnBody calls done once, when the body is read to its end or closed.
type returnBody struct {
	rc   io.ReadCloser
	once sync.Once
	done func()
}

func (b *returnBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *returnBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.done)
	return err
}
