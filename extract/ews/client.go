// Package ews is the Exchange Web Services source: it reads Exchange Server 2016/2019 on
// premises (or Exchange Online while EWS lasts, or the sim/ews emulator) over SOAP 1.1
// written and read with encoding/xml.
//
// # The client (client.go, soap.go, auth.go, throttle.go, errors.go)
//
// A *Client sends EWS operations to one endpoint (https://host/EWS/Exchange.asmx, or the
// URL Autodiscover found):
//
//	c, err := ews.NewClient(ews.ClientConfig{URL: u, Auth: ews.AuthNTLM, Username: `CORP\svc-migr`,
//		Password: pw, Impersonate: true})
//	var resp struct {
//		Messages []struct {
//			ews.ResponseMessage
//			Folders []ews.Folder `xml:"Folders>Folder"`
//		} `xml:"ResponseMessages>GetFolderResponseMessage"`
//	}
//	err = c.Call(ctx, ews.Request{Mailbox: "anne@example.org", Body: getFolderRequest}, &resp)
//
// Request.Body is a struct marshalled as the SOAP Body's only element; its tags carry the
// m: (messages) and t: (types) prefixes, which the envelope declares (see soap.go). Every
// request carries RequestServerVersion (Exchange2016 unless configured) and, when the
// client impersonates, ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress =
// Request.Mailbox; the X-AnchorMailbox HTTP header names Request.Mailbox in every case.
// Request.Header adds SOAP header elements (e.g. t:TimeZoneContext).
//
// The response Body's first element is decoded into out by local names (namespaces and
// prefixes are ignored), so a response type is written with plain names
// (`xml:"ResponseMessages>GetItemResponseMessage"`). Embed ResponseMessage in each
// response message type to read ResponseClass / ResponseCode / MessageText; its Err method
// classifies a per-item failure.
//
// Call handles, for every operation: HTTP errors (401 → model.ErrFatal saying what to
// check, 503 retried), SOAP faults, and response messages whose code concerns the whole
// call: ErrorServerBusy (BackOffMilliseconds becomes a fence for the mailbox — and for
// every mailbox when the client does not impersonate, since all calls then spend the
// connecting account's budget — and the call is sent again after it),
// ErrorExceededConnectionCount (one concurrent slot fewer, then again). When every response
// message of the answer failed (or the root one did), Call returns the first one's error,
// classified (errors.go): ErrorItemNotFound / ErrorNonExistentMailbox wrap
// model.ErrNotFound, ErrorInvalidSyncStateData wraps model.ErrCursorExpired,
// ErrorImpersonateUserDenied is model.ErrFatal naming the missing role. When only some
// failed (a GetItem batch with one deleted item), Call returns nil and the caller checks
// each message's Err. Every error wraps an *Error (errors.As) carrying the EWS code.
// Calls are retried, so only idempotent (read) operations go through Call.
//
// Concurrency: at most ClientConfig.PerMailboxConcurrency calls per mailbox (default 4)
// and GlobalConcurrency in all (default 10, Exchange's default EWSMaxConcurrency for one
// account); a streamed call keeps its slot until its body is closed.
//
// Stream sends a call whose answer the caller reads itself (GetItem with MimeContent):
// see Client.Stream and mail.go's MIME decoder.
//
// # The mail source (mail.go)
//
// Source implements extract.Source: Mailboxes takes the given addresses (EWS has no
// directory listing), Folders uses SyncFolderHierarchy, Changes SyncFolderItems (the
// cursor is the SyncState), Open GetItem's MimeContent decoded as it streams.
package ews

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// ClientConfig configures a Client. Zero values take the documented defaults.
type ClientConfig struct {
	// URL is the EWS endpoint, e.g. https://mail.example.org/EWS/Exchange.asmx.
	URL string
	// Auth is AuthNTLM (default), AuthBasic or AuthOAuth.
	Auth string
	// Username (DOMAIN\user or user@domain) and Password authenticate NTLM and Basic.
	Username, Password string
	// Tokens gives bearer tokens for AuthOAuth.
	Tokens TokenSource
	// Impersonate makes every call that acts for a mailbox carry ExchangeImpersonation for
	// it: the account (a service account with the ApplicationImpersonation role) acts as
	// each mailbox. Without it the account reaches other mailboxes by delegate access
	// (FullAccess), naming the mailbox in distinguished folder ids.
	Impersonate bool
	// ServerVersion is RequestServerVersion, default "Exchange2016".
	ServerVersion string
	// CAFile is an extra PEM CA to trust (internal PKI, emulator).
	CAFile string
	// InsecureSkipVerify disables TLS verification; only when the user asks.
	InsecureSkipVerify bool
	// PerMailboxConcurrency caps concurrent calls per mailbox, default 4.
	PerMailboxConcurrency int
	// GlobalConcurrency caps concurrent calls in all, default 10.
	GlobalConcurrency int
	// MaxAttempts bounds the attempts of one call, default 8.
	MaxAttempts int
	// BaseBackoff is the first wait after a failure that names none, default 500ms; it
	// doubles up to MaxBackoff (default 30s).
	BaseBackoff, MaxBackoff time.Duration
	// MaxResponse bounds a buffered (non-streamed) answer, default 256 MiB.
	MaxResponse int64
	// Transport replaces the authenticating transport (tests); Auth, credentials and TLS
	// settings are then ignored.
	Transport http.RoundTripper
	// Logger receives warnings; default slog.Default().
	Logger *slog.Logger
}

// Client sends EWS operations. It is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	url  string
	http *http.Client
	th   *throttle
	log  *slog.Logger
}

// NewClient checks cfg and builds a Client. It sends nothing. A bad configuration
// (missing URL or credentials, unreadable CA file) returns an error wrapping
// model.ErrFatal.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = "Exchange2016"
	}
	if cfg.PerMailboxConcurrency <= 0 {
		cfg.PerMailboxConcurrency = 4
	}
	if cfg.GlobalConcurrency <= 0 {
		cfg.GlobalConcurrency = 10
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 256 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, model.Fatal(fmt.Errorf("ews: bad EWS URL %q (want https://host/EWS/Exchange.asmx)", cfg.URL))
	}
	rt := cfg.Transport
	if rt == nil {
		tc, err := tlsConfig(cfg.CAFile, cfg.InsecureSkipVerify)
		if err != nil {
			return nil, model.Fatal(err)
		}
		rt, err = newAuthTransport(strings.ToLower(cfg.Auth), cfg.Username, cfg.Password, cfg.Tokens, tc, cfg.GlobalConcurrency)
		if err != nil {
			return nil, model.Fatal(err)
		}
	}
	return &Client{
		cfg: cfg, url: u.String(), log: cfg.Logger,
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		th:   newThrottle(cfg.PerMailboxConcurrency, cfg.GlobalConcurrency, !cfg.Impersonate),
	}, nil
}

// URL is the EWS endpoint the client talks to.
func (c *Client) URL() string { return c.url }

// Impersonating reports whether calls carry ExchangeImpersonation.
func (c *Client) Impersonating() bool { return c.cfg.Impersonate }

// Stats returns what the client did so far.
func (c *Client) Stats() Stats { return c.th.stats() }

// Request is one EWS call.
type Request struct {
	// Mailbox is the mailbox the call acts for ("" = the account itself): impersonated
	// when the client impersonates, always named in X-AnchorMailbox, and the key of the
	// per-mailbox concurrency and back-off.
	Mailbox string
	// Body is the operation element (tags with m:/t: prefixes).
	Body any
	// Header holds extra SOAP header elements.
	Header []any
}

func (c *Client) envelope(req Request) ([]byte, string, error) {
	h := envelopeHeader{Version: c.cfg.ServerVersion, Extra: req.Header}
	if c.cfg.Impersonate {
		h.Impersonate = req.Mailbox
	}
	b, op, err := buildEnvelope(h, req.Body)
	if err != nil {
		return nil, "", model.Permanent(fmt.Errorf("ews: encoding request: %w", err))
	}
	return b, op, nil
}

// post sends one attempt within the throttle; the caller closes the body, which frees
// the slot.
func (c *Client) post(ctx context.Context, mailbox, op string, env []byte) (*http.Response, error) {
	release, err := c.th.acquire(ctx, mailbox)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(env))
	if err != nil {
		release()
		return nil, model.Fatal(fmt.Errorf("ews: %w", err))
	}
	hreq.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hreq.Header.Set("Accept", "text/xml")
	hreq.Header.Set("SOAPAction", `"`+NSMessages+"/"+op+`"`)
	hreq.Header.Set("User-Agent", "bascule")
	if mailbox != "" {
		hreq.Header.Set("X-AnchorMailbox", mailbox)
	}
	c.th.requests.Add(1)
	resp, err := c.http.Do(hreq)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &returnBody{rc: resp.Body, done: release}
	return resp, nil
}

// httpError reads a non-200 answer: a SOAP fault when it holds one, else a bare HTTP
// error. It closes the body.
func (c *Client) httpError(resp *http.Response, op, mailbox string) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Op: op, Mailbox: mailbox, HTTPStatus: resp.StatusCode}
	if _, f, err := ParseEnvelope(bytes.NewReader(b), nil); err == nil && f != nil {
		e.Code, e.Message, e.BackOff = f.code(), strings.TrimSpace(f.String), f.Detail.MessageXML.BackOff()
		if e.Code == "ErrorServerBusy" || retryableCodes[e.Code] || e.Code == "" {
			return e
		}
	}
	if e.Code == "" && resp.StatusCode == http.StatusUnauthorized {
		e.Message = "authentication refused"
	}
	return e
}

// react applies the side effects of a retryable error before the next attempt, and
// returns how long to sleep outside the throttle (the fences make acquire wait).
func (c *Client) react(e *Error, mailbox string, attempt int) time.Duration {
	switch {
	case e.Code == "ErrorServerBusy":
		d := e.BackOff
		if d <= 0 {
			d = backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff)
		}
		c.th.busy(mailbox, d)
		return 0
	case e.Code == "ErrorExceededConnectionCount" || e.Code == "ErrorTooManyObjectsOpened":
		c.th.tooManyConnections(mailbox)
	case e.HTTPStatus == http.StatusServiceUnavailable || e.HTTPStatus == http.StatusBadGateway || e.HTTPStatus == http.StatusGatewayTimeout:
		c.th.unavailable.Add(1)
	}
	return backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff)
}

// callLevel picks the error that concerns the whole call among the response messages
// found in an answer: a throttling code anywhere; else, among the outermost messages
// (the root of a GetDelegate answer, or the siblings of a GetItem batch), the first
// failure when every one of them failed.
func callLevel(msgs []ResponseMessage, op, mailbox string) *Error {
	if len(msgs) == 0 {
		return nil
	}
	mk := func(m ResponseMessage) *Error {
		return &Error{Op: op, Mailbox: mailbox, Code: m.ResponseCode, Message: m.MessageText, BackOff: m.MessageXML.BackOff()}
	}
	top := msgs[0].depth
	for _, m := range msgs {
		if m.Failed() && (m.ResponseCode == "ErrorServerBusy" || m.ResponseCode == "ErrorExceededConnectionCount" || m.ResponseCode == "ErrorTooManyObjectsOpened") {
			return mk(m)
		}
		top = min(top, m.depth)
	}
	var first *ResponseMessage
	for i, m := range msgs {
		if m.depth != top {
			continue
		}
		if !m.Failed() {
			return nil
		}
		if first == nil {
			first = &msgs[i]
		}
	}
	if first == nil {
		return nil
	}
	return mk(*first)
}

// Call sends req and decodes the answer's Body element into out (nil = decode nothing).
// See the package doc for what it retries and how it classifies errors. The answer is
// read into memory (bounded by MaxResponse) before it is decoded.
func (c *Client) Call(ctx context.Context, req Request, out any) error {
	env, op, err := c.envelope(req)
	if err != nil {
		return err
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.th.retries.Add(1)
		}
		last := attempt >= c.cfg.MaxAttempts
		wait, err := c.once(ctx, req.Mailbox, op, env, out, attempt)
		if err == nil {
			c.th.success(req.Mailbox)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
		if wait < 0 || last {
			return lastErr
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// once makes one attempt. It returns the classified error and the wait before the next
// attempt, or -1 when the error is final.
func (c *Client) once(ctx context.Context, mailbox, op string, env []byte, out any, attempt int) (time.Duration, error) {
	resp, err := c.post(ctx, mailbox, op, env)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		if errors.Is(err, model.ErrFatal) {
			return -1, err
		}
		return backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff), model.Retryable(fmt.Errorf("ews: %s for %s: %w", op, mailbox, err))
	}
	if resp.StatusCode != http.StatusOK {
		e := c.httpError(resp, op, mailbox)
		if e.retryable() {
			return c.react(e, mailbox, attempt), e.classify()
		}
		return -1, e.classify()
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponse+1))
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff), model.Retryable(fmt.Errorf("ews: reading the %s answer for %s: %w", op, mailbox, err))
	}
	if int64(len(b)) > c.cfg.MaxResponse {
		return -1, model.Permanent(fmt.Errorf("ews: the %s answer for %s is larger than %d bytes", op, mailbox, c.cfg.MaxResponse))
	}
	if e := callLevel(scanMessages(b), op, mailbox); e != nil {
		if e.retryable() {
			return c.react(e, mailbox, attempt), e.classify()
		}
		return -1, e.classify()
	}
	_, f, err := ParseEnvelope(bytes.NewReader(b), out)
	if f != nil {
		e := &Error{Op: op, Mailbox: mailbox, HTTPStatus: http.StatusOK, Code: f.code(), Message: f.String, BackOff: f.Detail.MessageXML.BackOff()}
		if e.retryable() {
			return c.react(e, mailbox, attempt), e.classify()
		}
		return -1, e.classify()
	}
	if err != nil {
		// A cut or garbled answer: the same call may come back whole.
		return backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff), model.Retryable(fmt.Errorf("ews: %s for %s: %w", op, mailbox, err))
	}
	return 0, nil
}

// Stream sends req and returns the body of its 200 answer for the caller to read with a
// streaming decoder; the call's concurrency slot stays taken until the body is closed.
// HTTP errors and SOAP faults are handled as in Call (retried while retryable); response
// messages inside the answer are the caller's to check (and to retry, with Busy, on
// ErrorServerBusy).
func (c *Client) Stream(ctx context.Context, req Request) (io.ReadCloser, error) {
	env, op, err := c.envelope(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			c.th.retries.Add(1)
		}
		resp, err := c.post(ctx, req.Mailbox, op, env)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, model.ErrFatal) {
				return nil, err
			}
			err = model.Retryable(fmt.Errorf("ews: %s for %s: %w", op, req.Mailbox, err))
			wait = backoff(attempt, c.cfg.BaseBackoff, c.cfg.MaxBackoff)
		case resp.StatusCode != http.StatusOK:
			e := c.httpError(resp, op, req.Mailbox)
			err = e.classify()
			if !e.retryable() {
				return nil, err
			}
			wait = c.react(e, req.Mailbox, attempt)
		default:
			c.th.success(req.Mailbox)
			return resp.Body, nil
		}
		if attempt >= c.cfg.MaxAttempts {
			return nil, err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// Busy records an ErrorServerBusy the caller found in a streamed answer: the mailbox
// waits d (a default back-off when d is 0) before its next call.
func (c *Client) Busy(mailbox string, d time.Duration) {
	if d <= 0 {
		d = c.cfg.BaseBackoff
	}
	c.th.busy(mailbox, d)
}

// MaxAttempts is the configured number of attempts of one call.
func (c *Client) MaxAttempts() int { return c.cfg.MaxAttempts }

// Distinguished returns the distinguished folder id name of mailbox: with the mailbox
// named in it when the client does not impersonate (delegate access), bare otherwise.
func (c *Client) Distinguished(name, mailbox string) *DistinguishedFolderID {
	d := &DistinguishedFolderID{ID: name}
	if !c.cfg.Impersonate && mailbox != "" {
		d.Mailbox = &MailboxAddr{EmailAddress: mailbox}
	}
	return d
}
