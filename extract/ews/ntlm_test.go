package ews

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

type countingRT struct {
	base                 http.RoundTripper
	requests, challenged atomic.Int64
	authHeaders          atomic.Int64
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if strings.HasPrefix(r.Header.Get("Authorization"), "NTLM ") || strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate ") {
		c.authHeaders.Add(1)
	}
	resp, err := c.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		c.challenged.Add(1)
	}
	return resp, err
}

// TestNTLMHandshake: the first call makes the three legs (anonymous → 401, NEGOTIATE →
// 401 with the challenge, AUTHENTICATE → 200) on one connection; the next calls reuse the
// authenticated connection without a handshake.
func TestNTLMHandshake(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	cfg := e.config()
	cfg.GlobalConcurrency = 1 // one connection: every call after the first reuses it
	src := e.source(t, cfg)
	pool, ok := src.c.http.Transport.(*ntlmPool)
	if !ok {
		t.Fatalf("transport is %T, want *ntlmPool", src.c.http.Transport)
	}
	var counters []*countingRT
	pool.wrap = func(rt http.RoundTripper) http.RoundTripper {
		c := &countingRT{base: rt}
		counters = append(counters, c)
		return c
	}
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{Addresses: []string{e.config().Mailboxes[0]}})
	if err != nil {
		t.Fatalf("Mailboxes() over NTLM = %v", err)
	}
	if len(counters) != 1 {
		t.Fatalf("%d connections' transports made, want 1", len(counters))
	}
	c := counters[0]
	if c.requests.Load() != 3 || c.challenged.Load() != 2 || c.authHeaders.Load() != 2 {
		t.Errorf("handshake: %d requests, %d 401s, %d NTLM headers; want 3, 2, 2", c.requests.Load(), c.challenged.Load(), c.authHeaders.Load())
	}
	if _, err := src.Folders(ctx, boxes[0]); err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	// Folders makes two calls (GetFolder, SyncFolderHierarchy): no new handshake.
	if c.requests.Load() != 5 || c.challenged.Load() != 2 {
		t.Errorf("after two more calls: %d requests, %d 401s; want 5, 2", c.requests.Load(), c.challenged.Load())
	}
}

// TestOwnMailboxWithoutImpersonation: a user reading its own mailbox with Basic, no
// impersonation (distinguished ids name the mailbox).
func TestOwnMailboxWithoutImpersonation(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	u := e.ten.Users()[0]
	cfg := e.config()
	cfg.Auth, cfg.Username, cfg.Password, cfg.Impersonate = AuthBasic, u.UPN, simews.DefaultPassword(u), false
	cfg.Mailboxes = []string{addressOf(u)}
	src := e.source(t, cfg)
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	folders, err := src.Folders(ctx, boxes[0])
	if err != nil || len(folders) != len(e.ten.Folders(u.ID)) {
		t.Fatalf("Folders() = %d folders, %v; want %d", len(folders), err, len(e.ten.Folders(u.ID)))
	}
}

// TestBearer: OAuth with a token source.
func TestBearer(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{BearerToken: "app-token"})
	cfg := e.config()
	cfg.Auth, cfg.Username, cfg.Password, cfg.Tokens = AuthOAuth, "", "", StaticToken("app-token")
	if _, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{}); err != nil {
		t.Fatalf("Mailboxes() with a bearer token = %v", err)
	}
	cfg.Tokens = StaticToken("wrong-token")
	if _, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{}); !errors.Is(err, model.ErrFatal) {
		t.Errorf("Mailboxes() with a wrong token = %v, want fatal", err)
	}
}

// TestTLSVerified: without the emulator's CA the connection is refused.
func TestTLSVerified(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	cfg := e.config()
	cfg.CAFile = ""
	cfg.MaxAttempts = 1
	_, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Mailboxes() without the CA = %v, want a certificate error", err)
	}
	cfg.InsecureSkipVerify = true
	if _, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{}); err != nil {
		t.Errorf("Mailboxes() with InsecureSkipVerify = %v", err)
	}
}

// TestAutodiscoverSim: POX and SOAP against the emulator find its EWS URL.
func TestAutodiscoverSim(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	cfg := e.config()
	addr := cfg.Mailboxes[0]
	for _, u := range []string{e.sim.URL() + "/autodiscover/autodiscover.xml", e.sim.URL() + "/autodiscover/autodiscover.svc"} {
		got, err := Autodiscover(context.Background(), addr, AutodiscoverOptions{Client: cfg.ClientConfig, URLs: []string{u}})
		if err != nil || got != e.sim.EWSURL() {
			t.Errorf("Autodiscover(%s) = %q, %v; want %q", u, got, err, e.sim.EWSURL())
		}
	}
	cfg.Password = "wrong"
	_, err := Autodiscover(context.Background(), addr, AutodiscoverOptions{Client: cfg.ClientConfig, URLs: []string{e.sim.URL() + "/autodiscover/autodiscover.xml"}})
	if !errors.Is(err, model.ErrFatal) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Autodiscover with a wrong password = %v", err)
	}
}
