package ews

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	ntlmssp "github.com/Azure/go-ntlmssp"
)

const inboxReq = `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`

func TestMD4(t *testing.T) {
	// RFC 1320 A.5 test suite.
	for in, want := range map[string]string{
		"":    "31d6cfe0d16ae931b73c59d7e0c089c0",
		"a":   "bde52cb31de33e46245e05fbdbd6fb24",
		"abc": "a448017aaf21d8525fc10ae87aa6729d",
		"12345678901234567890123456789012345678901234567890123456789012345678901234567890": "e33b4ddc9c38f2199c3e7b164fcc0536",
	} {
		got := md4Sum([]byte(in))
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("md4(%q) = %x, want %s", in, got, want)
		}
	}
	// MS-NLMP 4.2.4.1.1: NTOWFv2("Password", "User", "Domain").
	if got := hex.EncodeToString(ntowfv2("Password", "User", "Domain")); got != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Errorf("NTOWFv2 = %s", got)
	}
}

// countingRT counts the 401s the server answers.
type countingRT struct {
	http.RoundTripper
	unauthorized atomic.Int64
	requests     atomic.Int64
}

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.RoundTripper.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		c.unauthorized.Add(1)
	}
	return resp, err
}

func TestAuth(t *testing.T) {
	s, ten := startCore(t, Options{BearerToken: "test-bearer-token", Passwords: map[string]string{}})
	u := regular(ten)[0]
	inboxOf := func(c *coreClient) (int, string) {
		st, n := c.call(inboxReq)
		return st, n.first("FolderId").Attr["Id"]
	}
	wantInbox, err := ten.Folder(u.ID, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	domainUser := "CONTOSO\\" + strings.SplitN(u.UPN, "@", 2)[0]

	t.Run("basic", func(t *testing.T) {
		for _, name := range []string{u.UPN, u.Mail, domainUser} {
			if st, id := inboxOf(basicClient(t, s, name, DefaultPassword(u))); st != 200 || id != wantInbox.ID {
				t.Errorf("Basic %s: %d %q, want 200 %q", name, st, id, wantInbox.ID)
			}
		}
		if st, _ := inboxOf(basicClient(t, s, u.UPN, "wrong")); st != 401 {
			t.Errorf("wrong password: %d, want 401", st)
		}
		if st, _ := inboxOf(basicClient(t, s, "nobody@contoso.example", "x")); st != 401 {
			t.Errorf("unknown user: %d, want 401", st)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		c := &coreClient{t: t, s: s, hc: &http.Client{Transport: tlsTransport(t, s)}}
		req, _ := http.NewRequest(http.MethodPost, s.EWSURL(), strings.NewReader(envelope(inboxReq, "")))
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := strings.Join(resp.Header.Values("WWW-Authenticate"), ",")
		if resp.StatusCode != 401 || !strings.Contains(got, "NTLM") || !strings.Contains(got, "Basic") || !strings.Contains(got, "Negotiate") {
			t.Errorf("anonymous: %d, WWW-Authenticate %q", resp.StatusCode, got)
		}
	})
	t.Run("bearer", func(t *testing.T) {
		c := &coreClient{t: t, s: s, hc: &http.Client{Transport: tlsTransport(t, s)}, bearer: "test-bearer-token", impersonate: u.Mail}
		if st, id := inboxOf(c); st != 200 || id != wantInbox.ID {
			t.Errorf("Bearer: %d %q", st, id)
		}
		c.bearer = "other-token"
		if st, _ := inboxOf(c); st != 401 {
			t.Errorf("wrong Bearer: %d, want 401", st)
		}
	})
	t.Run("ntlm", func(t *testing.T) {
		for _, name := range []string{u.UPN, domainUser} {
			rt := &countingRT{RoundTripper: tlsTransport(t, s)}
			c := ntlmClient(t, s, name, DefaultPassword(u), rt)
			if st, id := inboxOf(c); st != 200 || id != wantInbox.ID {
				t.Fatalf("NTLM %s: %d %q", name, st, id)
			}
			// anonymous try → 401, negotiate → 401 challenge, authenticate → 200
			if rt.unauthorized.Load() != 2 || rt.requests.Load() != 3 {
				t.Errorf("NTLM handshake: %d requests, %d 401s", rt.requests.Load(), rt.unauthorized.Load())
			}
			// The connection stays authenticated, as with IIS: the next request needs no handshake.
			if st, id := inboxOf(c); st != 200 || id != wantInbox.ID {
				t.Fatalf("NTLM second request: %d %q", st, id)
			}
			if rt.requests.Load() != 4 || rt.unauthorized.Load() != 2 {
				t.Errorf("second request: %d requests, %d 401s (want 4, 2)", rt.requests.Load(), rt.unauthorized.Load())
			}
		}
		if st, _ := inboxOf(ntlmClient(t, s, u.UPN, "wrong-password", nil)); st != 401 {
			t.Errorf("NTLM wrong password: %d, want 401", st)
		}
		// The service account logs on with NTLM too, and impersonates.
		c := ntlmClient(t, s, "CONTOSO\\svc-bascule", "Service-Pa55!", nil)
		c.impersonate = u.Mail
		if st, id := inboxOf(c); st != 200 || id != wantInbox.ID {
			t.Errorf("NTLM service account: %d %q", st, id)
		}
	})
	t.Run("password option", func(t *testing.T) {
		s2, _ := startCore(t, Options{Tenant: ten, Passwords: map[string]string{strings.ToUpper(u.Mail): "chosen"}, ServiceAccount: "svc@x.example", ServicePassword: "p1"})
		if got := s2.Password(u.UPN); got != "chosen" {
			t.Errorf("Password() = %q", got)
		}
		if n, p := s2.ServiceAccount(); n != "svc@x.example" || p != "p1" {
			t.Errorf("ServiceAccount() = %q %q", n, p)
		}
		if st, _ := inboxOf(basicClient(t, s2, s2.Domain()+`\svc`, "p1")); st != 200 {
			t.Errorf("configured service account: %d", st)
		}
		if st, _ := inboxOf(basicClient(t, s2, u.UPN, "chosen")); st != 200 {
			t.Errorf("configured password: %d", st)
		}
		if st, _ := inboxOf(basicClient(t, s2, u.UPN, DefaultPassword(u))); st != 401 {
			t.Errorf("default password after a configured one: %d, want 401", st)
		}
	})
}

func TestImpersonation(t *testing.T) {
	s, ten := startCore(t, Options{})
	users := regular(ten)
	u, other := users[0], users[1]
	want, _ := ten.Folder(other.ID, "inbox")

	svc := basicClient(t, s, "svc-bascule@"+s.domain, "Service-Pa55!")
	svc.impersonate, svc.anchor = other.Mail, other.Mail
	n := svc.mustOK(inboxReq)
	if id := n.first("FolderId").Attr["Id"]; id != want.ID {
		t.Errorf("impersonated inbox = %q, want %q", id, want.ID)
	}

	// Without impersonation a mailbox-less account must name the mailbox.
	svc.impersonate = ""
	st, n := svc.call(inboxReq)
	if st != 200 || n.first("ResponseCode").Text != "ErrorMissingEmailAddress" {
		t.Errorf("service account without mailbox: %d %s", st, n.dump())
	}

	plain := basicClient(t, s, "svc-noimp@"+s.domain, "Plain-Pa55!")
	plain.impersonate = other.Mail
	st, n = plain.call(inboxReq)
	if st != 500 || n.first("faultcode").Text != "a:ErrorImpersonateUserDenied" || n.first("ResponseCode").Text != "ErrorImpersonateUserDenied" {
		t.Errorf("impersonation without the right: %d %s", st, n.dump())
	}
	// A user without the right cannot impersonate another.
	uc := userClient(t, s, u)
	uc.impersonate = other.Mail
	if st, n = uc.call(inboxReq); st != 500 || n.first("ResponseCode").Text != "ErrorImpersonateUserDenied" {
		t.Errorf("user impersonating: %d %s", st, n.dump())
	}
	svc.impersonate = "ghost@" + s.domain
	if st, n = svc.call(inboxReq); st != 500 || n.first("ResponseCode").Text != "ErrorNonExistentMailbox" {
		t.Errorf("impersonating nobody: %d %s", st, n.dump())
	}
	// A user opening another mailbox's distinguished folder is denied.
	uc.impersonate = ""
	n = uc.mustOKOr(`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>` + other.Mail + `</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>`)
	if got := n.first("ResponseCode").Text; got != "ErrorAccessDenied" {
		t.Errorf("other mailbox: %s", got)
	}
}

// mustOKOr calls and fails unless the status is 200 (response messages may be errors).
func (c *coreClient) mustOKOr(body string) *node {
	c.t.Helper()
	st, n := c.call(body)
	if st != http.StatusOK {
		c.t.Fatalf("status %d: %s", st, n.dump())
	}
	return n
}

// TestNTLMPerConnection drives the handshake by hand: the Negotiate scheme, the challenge
// bound to its TCP connection, no replay.
func TestNTLMPerConnection(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	send := func(hc *http.Client, authz string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.EWSURL(), strings.NewReader(envelope(inboxReq, "")))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	handshake := func(hc *http.Client) []byte {
		t.Helper()
		neg, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			t.Fatal(err)
		}
		resp := send(hc, "Negotiate "+base64.StdEncoding.EncodeToString(neg))
		scheme, tok, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), " ")
		chal, err := base64.StdEncoding.DecodeString(tok)
		if resp.StatusCode != 401 || scheme != "Negotiate" || err != nil || ntlmMessageType(chal) != 2 {
			t.Fatalf("challenge: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		return chal
	}
	authMsg := func(chal []byte, pass string) string {
		t.Helper()
		am, err := ntlmssp.NewAuthenticateMessage(chal, u.UPN, pass, nil)
		if err != nil {
			t.Fatal(err)
		}
		return "Negotiate " + base64.StdEncoding.EncodeToString(am)
	}
	a := &http.Client{Transport: tlsTransport(t, s)}
	chal := handshake(a)
	am := authMsg(chal, DefaultPassword(u))
	if resp := send(a, am); resp.StatusCode != 200 {
		t.Fatalf("authenticate: %d", resp.StatusCode)
	}
	if resp := send(a, ""); resp.StatusCode != 200 {
		t.Errorf("same connection, no Authorization: %d", resp.StatusCode)
	}
	// Another connection is anonymous, and cannot use the first one's challenge.
	b := &http.Client{Transport: tlsTransport(t, s)}
	if resp := send(b, ""); resp.StatusCode != 401 {
		t.Errorf("other connection: %d", resp.StatusCode)
	}
	chal = handshake(a)
	if resp := send(b, authMsg(chal, DefaultPassword(u))); resp.StatusCode != 401 {
		t.Errorf("authenticate on another connection than the challenge: %d", resp.StatusCode)
	}
	// Replaying an AUTHENTICATE message fails and leaves the connection anonymous.
	if resp := send(a, am); resp.StatusCode != 401 {
		t.Errorf("replayed AUTHENTICATE: %d", resp.StatusCode)
	}
	if resp := send(a, ""); resp.StatusCode != 401 {
		t.Errorf("after a failed attempt: %d", resp.StatusCode)
	}
	// A wrong password fails.
	chal = handshake(a)
	if resp := send(a, authMsg(chal, "wrong")); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
}
