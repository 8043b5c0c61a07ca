package dav

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReason(t *testing.T) {
	cases := []struct {
		status int
		ctype  string
		body   string
		want   []string
	}{
		{403, "application/xml", `<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:valid-calendar-data/><D:responsedescription>DTEND must occur after DTSTART</D:responsedescription></D:error>`,
			[]string{"403 Forbidden", "C:valid-calendar-data", "DTEND must occur after DTSTART"}},
		{403, "application/xml", `<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict><D:href>/cal/a.ics</D:href></C:no-uid-conflict></D:error>`,
			[]string{"C:no-uid-conflict", "/cal/a.ics"}},
		{404, "text/html; charset=utf-8", `<!DOCTYPE HTML><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>Mailbox does not exist</p><hr><address>Cyrus-HTTP</address></body></html>`,
			[]string{"404 Not Found: Mailbox does not exist"}},
		{400, "text/plain", "Bad Request\n\n  the body   was wrong", []string{"400 Bad Request: Bad Request the body was wrong"}},
		{500, "", "", []string{"500 Internal Server Error"}},
		{400, "application/xml", `<notanerror>x</notanerror>`, []string{"400 Bad Request: <notanerror>x</notanerror>"}},
	}
	for _, c := range cases {
		got := reason(&exchange{status: c.status, header: http.Header{"Content-Type": {c.ctype}}, body: []byte(c.body)})
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("reason(%d %q) = %q, want it to hold %q", c.status, c.body, got, w)
			}
		}
	}
	long := reason(&exchange{status: 400, header: http.Header{}, body: []byte(strings.Repeat("é", 1000))})
	if len(long) > 400 || !strings.HasSuffix(long, "…") {
		t.Errorf("a long reason is not clipped: %d bytes", len(long))
	}
}

func TestRetryAfter(t *testing.T) {
	if d, ok := retryAfter("120"); !ok || d != 2*time.Minute {
		t.Errorf("retryAfter(120) = %v, %v", d, ok)
	}
	if d, ok := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); !ok || d < 59*time.Minute {
		t.Errorf("retryAfter(date) = %v, %v", d, ok)
	}
	for _, v := range []string{"", "soon", "-3"} {
		if _, ok := retryAfter(v); ok {
			t.Errorf("retryAfter(%q) = ok", v)
		}
	}
}

func TestPrincipalOf(t *testing.T) {
	s := &Sink{cfg: Config{Auth: "admin", AdminUser: "admin"}}
	if p, err := s.principalOf("/admin/", "alice@example.org"); err != nil || p != "/alice@example.org/" {
		t.Errorf("principalOf(/admin/) = %q, %v", p, err)
	}
	if _, err := s.principalOf("/principals/root/", "alice"); err == nil {
		t.Errorf("principalOf without the admin's login in the path = nil error")
	}
	s.cfg.PrincipalTemplate = "/dav/principals/user/{user}/"
	if p, err := s.principalOf("/whatever/", "bob"); err != nil || p != "/dav/principals/user/bob/" {
		t.Errorf("principalOf(template) = %q, %v", p, err)
	}
	// Cyrus answers the admin's own home for another user's principal.
	s.cfg.PrincipalTemplate = ""
	s.cfg.AdminUser = "cyrusadmin"
	if h, err := s.homeOf("/dav/calendars/user/cyrusadmin/", "", "bob"); err != nil || h != "/dav/calendars/user/bob/" {
		t.Errorf("homeOf(admin's home) = %q, %v", h, err)
	}
	if h, err := s.homeOf("/dav/calendars/user/bob/", "/dav/calendars/user/cyrusadmin/", "bob"); err != nil || h != "/dav/calendars/user/bob/" {
		t.Errorf("homeOf(bob's home) = %q, %v", h, err)
	}
	if _, err := s.homeOf("/cal/", "/cal/", "bob"); err == nil {
		t.Errorf("homeOf(the admin's home, not naming it) = nil error: would write into the admin's collections")
	}
}

func TestCollectionName(t *testing.T) {
	a, b := CollectionName("AAMkAGI2=="), CollectionName("AAMkAGI3==")
	if a == b || a != CollectionName("AAMkAGI2==") || !strings.HasPrefix(a, "bascule-") || len(a) != len("bascule-")+16 {
		t.Errorf("CollectionName: %q, %q", a, b)
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{URL: "ftp://example.org/"},
		{URL: "https://user:secret@example.org/"},
		{URL: "https://example.org/", Auth: "root"},
		{URL: "https://example.org/", Auth: "admin"},
		{URL: "https://example.org/", Auth: "admin", AdminUser: "a", PrincipalTemplate: "/p/"},
		{URL: "https://example.org/", CAFile: "/nonexistent.pem"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("New: the error shows the password: %v", err)
		}
	}
	if _, err := New(Config{URL: "https://dav.example.org"}); err != nil {
		t.Errorf("New(plain URL) = %v", err)
	}
}

// FuzzReason: a server's error body never makes reason panic, and the result stays short.
func FuzzReason(f *testing.F) {
	f.Add(403, "application/xml", `<D:error xmlns:D="DAV:"><D:need-privileges/></D:error>`)
	f.Add(404, "text/html", `<html><p>gone</p></html>`)
	f.Add(400, "text/plain", "\xff\xfe<")
	f.Fuzz(func(t *testing.T, status int, ctype, body string) {
		got := reason(&exchange{status: status, header: http.Header{"Content-Type": {ctype}}, body: []byte(body)})
		if len(got) > 1200 {
			t.Errorf("reason is %d bytes long", len(got))
		}
	})
}
