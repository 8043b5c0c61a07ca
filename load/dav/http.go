package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// exchange travels in a request's context and records what the server answered, so that an
// error go-webdav returns (its HTTPError type is internal) can still be classified by status
// and explained with the server's own reason.
type exchange struct {
	method, path string
	status       int
	header       http.Header
	body         []byte // the start of a non-2xx body
}

type exchangeKey struct{}

// track returns a context that records the next request's answer into the returned exchange.
func track(ctx context.Context) (context.Context, *exchange) {
	ex := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, ex), ex
}

// client is the HTTP client every request of one account goes through, go-webdav's and ours:
// it logs in (basic auth), keeps at most cap(sem) requests in flight, and records answers.
type client struct {
	hc         *http.Client
	user, pass string
	sem        chan struct{}
}

const maxErrBody = 64 << 10

// Do implements webdav.HTTPClient. The slot taken for the request is given back when the
// response body is closed (every caller closes it) or, for an error status, at once.
func (c *client) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	req.SetBasicAuth(c.user, c.pass)
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex != nil {
		ex.method, ex.path, ex.status, ex.header, ex.body = req.Method, req.URL.Path, 0, nil, nil
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		<-c.sem
		return nil, err
	}
	if ex != nil {
		ex.status, ex.header = resp.StatusCode, resp.Header
	}
	if resp.StatusCode/100 != 2 {
		// Read the reason now (and drain the rest so the connection is reused).
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		<-c.sem
		if ex != nil {
			ex.body = body
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: func() { <-c.sem }}
	return resp, nil
}

type slotBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *slotBody) Close() error {
	// Drain what the caller left so the keep-alive connection goes back to the pool.
	io.Copy(io.Discard, io.LimitReader(b.ReadCloser, 1<<20))
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// do sends one request of ours and returns the response with its body read (at most limit
// bytes); the exchange records the status whatever it is.
func (c *client) do(ctx context.Context, method, url string, hdr http.Header, body []byte) (*exchange, []byte, error) {
	ctx, ex := track(ctx)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return ex, nil, model.Permanent(fmt.Errorf("%s %s: %w", method, url, err))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return ex, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return ex, nil, err
	}
	return ex, data, nil
}

// classify turns the outcome of one call into a classified error (nil stays nil). what names
// the call for the message. It never includes credentials: the request carries them only in
// its Authorization header.
func classify(what string, ex *exchange, err error) error {
	if ex == nil || ex.status == 0 || ex.status/100 == 2 {
		if err == nil {
			return nil
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// A deadline may be ours (the caller's) or the HTTP timeout: both are worth a retry.
			return model.Retryable(fmt.Errorf("%s: %w", what, err))
		}
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || ex == nil || ex.status == 0 {
			return model.Retryable(fmt.Errorf("%s: %w", what, err))
		}
		// A 2xx whose body go-webdav could not understand.
		return model.Permanent(fmt.Errorf("%s: unexpected answer: %w", what, err))
	}
	msg := fmt.Errorf("%s: %s", what, reason(ex))
	switch st := ex.status; {
	case st == http.StatusUnauthorized:
		return model.Fatal(fmt.Errorf("%w (wrong login or password)", msg))
	case st == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", load.ErrPrecondition, msg)
	case st == http.StatusNotFound:
		return model.Permanent(fmt.Errorf("%w: %w", model.ErrNotFound, msg))
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		if d, ok := retryAfter(ex.header.Get("Retry-After")); ok {
			return &model.Throttled{RetryAfter: d, Err: msg}
		}
		return model.Retryable(msg)
	case st >= 500, st == http.StatusRequestTimeout, st == http.StatusTooEarly:
		return model.Retryable(msg)
	default:
		return model.Permanent(msg)
	}
}

// statusErr is the error for a call of ours that got an unexpected status.
func statusErr(what string, ex *exchange) error {
	return classify(what, ex, fmt.Errorf("HTTP %d", ex.status))
}

func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

var nsPrefix = map[string]string{
	"DAV:":                           "D:",
	"urn:ietf:params:xml:ns:caldav":  "C:",
	"urn:ietf:params:xml:ns:carddav": "CR:",
	"http://apple.com/ns/ical/":      "I:",
}

// reason renders the server's answer: the status, the precondition elements of a DAV:error
// body (e.g. C:valid-calendar-data, C:no-uid-conflict) and any text it gave.
func reason(ex *exchange) string {
	s := fmt.Sprintf("%d %s", ex.status, http.StatusText(ex.status))
	if ex.status/100 == 3 {
		if loc := ex.header.Get("Location"); loc != "" {
			s += " to " + loc
		}
	}
	body := bytes.TrimSpace(ex.body)
	if len(body) == 0 {
		return s
	}
	if body[0] == '<' {
		if conds, text, ok := davError(body); ok {
			if len(conds) > 0 {
				s += ": " + clip(strings.Join(conds, ", "), 300)
			}
			if text != "" {
				s += ": " + text
			}
			return s
		}
	}
	text := string(body)
	if ct := ex.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") || bytes.HasPrefix(bytes.ToLower(body), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(body), []byte("<html")) {
		text = htmlText(text)
	}
	if text = clip(collapse(text), 300); text == "" {
		return s
	}
	return s + ": " + text
}

var (
	htmlPara = regexp.MustCompile(`(?is)<p>(.*?)</p>`)
	htmlTag  = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlText keeps what a human would read in an HTML error page: its paragraphs (Cyrus puts
// the reason in one; title and heading only repeat the status), else all its text.
func htmlText(s string) string {
	var parts []string
	for _, m := range htmlPara.FindAllStringSubmatch(s, 4) {
		parts = append(parts, htmlTag.ReplaceAllString(m[1], " "))
	}
	if len(parts) == 0 {
		parts = append(parts, htmlTag.ReplaceAllString(s, " "))
	}
	return html.UnescapeString(strings.Join(parts, " "))
}

// davError reads a DAV:error body (RFC 4918 §16): the names of its child elements are the
// failed pre/postconditions; text anywhere below them is the server's explanation.
func davError(body []byte) (conds []string, text string, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	var texts []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local != "error" {
				return nil, "", false
			}
			if depth == 2 && t.Name.Local != "responsedescription" {
				conds = append(conds, nsPrefix[t.Name.Space]+t.Name.Local)
			}
			if depth == 1 {
				ok = true
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth >= 2 {
				if s := collapse(string(t)); s != "" {
					texts = append(texts, s)
				}
			}
		}
	}
	return conds, clip(strings.Join(texts, " "), 300), ok
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}
