package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/bascule-migrate/bascule/internal/testenv"
)

func TestRadicale(t *testing.T) {
	s := testenv.Radicale(t, "alice", "bob:b0b-secret", "dan@contoso.example")
	if s.Kind != "radicale" || s.Users["alice"] != "pw-alice" || s.Users["bob"] != "b0b-secret" {
		t.Fatalf("server = %+v", s)
	}
	if got := s.PrincipalURL("alice"); got != "/alice/" {
		t.Errorf("PrincipalURL(alice) = %q", got)
	}
	if got := principalOf(t, s, "dan@contoso.example"); got != s.PrincipalURL("dan@contoso.example") {
		t.Errorf("current-user-principal of dan@contoso.example = %q, want %q", got, s.PrincipalURL("dan@contoso.example"))
	}
	checkDAVServer(t, s)
}

// checkDAVServer proves what the sink's tests rely on: discovery from s.URL, a calendar and an
// address book for alice (created when the server has none), PUT of a VEVENT and a vCard read
// back by Objects, the admin writing into alice's collections and bob refused.
func checkDAVServer(t *testing.T, s *testenv.DAVServer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Discovery: well-known → current-user-principal → home sets.
	var homes [2]string
	for i, service := range []string{"caldav", "carddav"} {
		hc := s.HTTPClient("alice")
		contextURL := wellKnown(t, hc, s.URL, service)
		wc, err := webdav.NewClient(hc, contextURL)
		if err != nil {
			t.Fatal(err)
		}
		principal, err := wc.FindCurrentUserPrincipal(ctx)
		if err != nil {
			t.Fatalf("%s: current-user-principal at %s: %v", service, contextURL, err)
		}
		if principal != s.PrincipalURL("alice") {
			t.Errorf("%s: current-user-principal = %q, PrincipalURL = %q", service, principal, s.PrincipalURL("alice"))
		}
		if service == "caldav" {
			c, _ := caldav.NewClient(hc, s.URL)
			homes[i], err = c.FindCalendarHomeSet(ctx, principal)
		} else {
			c, _ := carddav.NewClient(hc, s.URL)
			homes[i], err = c.FindAddressBookHomeSet(ctx, principal)
		}
		if err != nil || homes[i] == "" {
			t.Fatalf("%s: home set of %s = %q, %v", service, principal, homes[i], err)
		}
		t.Logf("%s: context %s, principal %s, home %s", service, contextURL, principal, homes[i])
	}

	// Wrong password.
	bad := webdav.HTTPClientWithBasicAuth(http.DefaultClient, "alice", "wrong")
	if code, _ := do(t, bad, "PROPFIND", s.URL+s.PrincipalURL("alice"), nil, "Depth", "0"); code != http.StatusUnauthorized {
		t.Errorf("PROPFIND with a wrong password = %d, want 401", code)
	}

	alice := s.HTTPClient("alice")
	cal := firstCollection(t, s, "alice", testenv.KindCalendar)
	if cal == "" {
		cal = homes[0] + "work/"
		body := `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Work</D:displayname></D:prop></D:set></C:mkcalendar>`
		if code, msg := do(t, alice, "MKCALENDAR", s.URL+cal, []byte(body), "Content-Type", "application/xml; charset=utf-8"); code != http.StatusCreated {
			t.Fatalf("MKCALENDAR %s = %d %s", cal, code, msg)
		}
		if got := s.DisplayNames(t, "alice", testenv.KindCalendar)[cal]; got != "Work" {
			t.Errorf("DisplayNames[%s] = %q, want Work", cal, got)
		}
	}
	book := firstCollection(t, s, "alice", testenv.KindContacts)
	if book == "" {
		book = homes[1] + "people/"
		body := `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>People</D:displayname></D:prop></D:set></D:mkcol>`
		if code, msg := do(t, alice, "MKCOL", s.URL+book, []byte(body), "Content-Type", "application/xml; charset=utf-8"); code != http.StatusCreated {
			t.Fatalf("MKCOL %s = %d %s", book, code, msg)
		}
		if got := s.DisplayNames(t, "alice", testenv.KindContacts)[book]; got != "People" {
			t.Errorf("DisplayNames[%s] = %q, want People", book, got)
		}
	}
	t.Logf("calendar %s, address book %s", cal, book)

	put := func(hc webdav.HTTPClient, href, ctype string, data []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, s.URL+href, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("If-None-Match", "*")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", href, err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag")
	}
	const icsType, vcfType = "text/calendar; charset=utf-8", "text/vcard; charset=utf-8"

	evHref := cal + "ev-1.ics"
	code, evTag := put(alice, evHref, icsType, vevent("ev-1", "Standup"))
	if code != http.StatusCreated {
		t.Fatalf("PUT %s = %d", evHref, code)
	}
	cardHref := book + "card-1.vcf"
	code, cardTag := put(alice, cardHref, vcfType, vcard("card-1", "Ada Lovelace"))
	if code != http.StatusCreated {
		t.Fatalf("PUT %s = %d", cardHref, code)
	}
	if code, _ := put(alice, evHref, icsType, vevent("ev-1", "Standup")); code != http.StatusPreconditionFailed {
		t.Errorf("second PUT %s with If-None-Match: * = %d, want 412", evHref, code)
	}

	// The admin writes into alice's collections; bob may neither write nor read there.
	adminHref := cal + "ev-admin.ics"
	if code, _ := put(s.HTTPClient(s.AdminUser), adminHref, icsType, vevent("ev-admin", "Set by admin")); code != http.StatusCreated {
		t.Errorf("admin PUT %s = %d, want 201", adminHref, code)
	}
	if code, _ := put(s.HTTPClient(s.AdminUser), book+"card-admin.vcf", vcfType, vcard("card-admin", "Grace Hopper")); code != http.StatusCreated {
		t.Errorf("admin PUT into %s = %d, want 201", book, code)
	}
	bob := s.HTTPClient("bob")
	if code, _ := put(bob, cal+"ev-bob.ics", icsType, vevent("ev-bob", "Set by bob")); code < 400 {
		t.Errorf("bob PUT into alice's %s = %d, want a refusal", cal, code)
	}
	if code, _ := put(bob, book+"card-bob.vcf", vcfType, vcard("card-bob", "Bob")); code < 400 {
		t.Errorf("bob PUT into alice's %s = %d, want a refusal", book, code)
	}
	if code, _ := do(t, bob, http.MethodGet, s.URL+evHref, nil); code < 400 {
		t.Errorf("bob GET %s = %d, want a refusal", evHref, code)
	}

	// Read back.
	events := s.Objects(t, "alice", testenv.KindCalendar)
	got := events[cal]
	if len(got) != 2 || got[0].Href != evHref || got[1].Href != adminHref {
		t.Fatalf("Objects(alice, calendar)[%s] = %v, want %s and %s", cal, hrefs(got), evHref, adminHref)
	}
	if !bytes.Contains(got[0].Data, []byte("UID:ev-1")) || !bytes.Contains(got[0].Data, []byte("SUMMARY:Standup")) {
		t.Errorf("%s reads back as:\n%s", evHref, got[0].Data)
	}
	if !bytes.Contains(got[1].Data, []byte("SUMMARY:Set by admin")) {
		t.Errorf("%s reads back as:\n%s", adminHref, got[1].Data)
	}
	if evTag != "" && got[0].ETag != evTag {
		t.Errorf("ETag of %s: PUT gave %s, GET gives %s", evHref, evTag, got[0].ETag)
	}
	if got[0].ETag == "" {
		t.Errorf("%s has no ETag", evHref)
	}
	cards := s.Objects(t, "alice", testenv.KindContacts)[book]
	if len(cards) != 2 || cards[0].Href != book+"card-1.vcf" || cards[1].Href != book+"card-admin.vcf" {
		t.Fatalf("Objects(alice, contacts)[%s] = %v", book, hrefs(cards))
	}
	if !bytes.Contains(cards[0].Data, []byte("FN:Ada Lovelace")) || (cardTag != "" && cards[0].ETag != cardTag) {
		t.Errorf("%s reads back with ETag %s (PUT: %s) as:\n%s", cardHref, cards[0].ETag, cardTag, cards[0].Data)
	}
	// bob's own collections are untouched by his refused writes.
	for _, objs := range s.Objects(t, "bob", testenv.KindCalendar) {
		if len(objs) != 0 {
			t.Errorf("bob has calendar objects: %v", hrefs(objs))
		}
	}
}

// principalOf discovers login's principal from the well-known CalDAV URI.
func principalOf(t *testing.T, s *testenv.DAVServer, login string) string {
	t.Helper()
	hc := s.HTTPClient(login)
	wc, err := webdav.NewClient(hc, wellKnown(t, hc, s.URL, "caldav"))
	if err != nil {
		t.Fatal(err)
	}
	principal, err := wc.FindCurrentUserPrincipal(context.Background())
	if err != nil {
		t.Fatalf("current-user-principal of %s: %v", login, err)
	}
	return principal
}

func wellKnown(t *testing.T, hc webdav.HTTPClient, base, service string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/.well-known/"+service, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /.well-known/%s: %v", service, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		t.Fatalf("GET /.well-known/%s = %s, Location %q: want a redirect", service, resp.Status, loc)
	}
	b, _ := url.Parse(base)
	l, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return b.ResolveReference(l).String()
}

// firstCollection returns the first of user's collections of kind in href order, or "".
func firstCollection(t *testing.T, s *testenv.DAVServer, user, kind string) string {
	t.Helper()
	first := ""
	for href := range s.DisplayNames(t, user, kind) {
		if first == "" || href < first {
			first = href
		}
	}
	return first
}

func do(t *testing.T, hc webdav.HTTPClient, method, u string, body []byte, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
	return resp.StatusCode, string(msg)
}

func vevent(uid, summary string) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//bascule//testenv//EN
BEGIN:VEVENT
UID:%s
DTSTAMP:20250102T030405Z
DTSTART:20250310T090000Z
DTEND:20250310T093000Z
SUMMARY:%s
END:VEVENT
END:VCALENDAR
`, uid, summary), "\n", "\r\n"))
}

func vcard(uid, name string) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`BEGIN:VCARD
VERSION:3.0
UID:%s
FN:%s
N:%s;;;;
EMAIL;TYPE=INTERNET:someone@example.org
END:VCARD
`, uid, name, name), "\n", "\r\n"))
}

func hrefs(objs []testenv.DAVObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Href)
	}
	return out
}

func TestCyrus(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob:b0b-secret")
	if s.Kind != "cyrus" || s.IMAPAddr == "" || s.Users["bob"] != "b0b-secret" {
		t.Fatalf("server = %+v", s)
	}
	if got := s.PrincipalURL("alice"); got != "/dav/principals/user/alice/" {
		t.Errorf("PrincipalURL(alice) = %q", got)
	}
	// Provisioned: both users have a Default calendar and address book.
	for _, user := range []string{"alice", "bob"} {
		if names := s.DisplayNames(t, user, testenv.KindCalendar); len(names) != 1 || names["/dav/calendars/user/"+user+"/Default/"] == "" {
			t.Errorf("calendars of %s = %v", user, names)
		}
		if names := s.DisplayNames(t, user, testenv.KindContacts); len(names) != 1 || names["/dav/addressbooks/user/"+user+"/Default/"] == "" {
			t.Errorf("address books of %s = %v", user, names)
		}
	}
	checkDAVServer(t, s)
}

// TestCyrusDomainLogin: a login holding a domain is provisioned, discovers its principal and
// can write into its Default calendar, and the admin can too.
func TestCyrusDomainLogin(t *testing.T) {
	s := testenv.Cyrus(t, "carol@example.org")
	if got := principalOf(t, s, "carol@example.org"); got != s.PrincipalURL("carol@example.org") {
		t.Fatalf("current-user-principal = %q, want %q", got, s.PrincipalURL("carol@example.org"))
	}
	cal := "/dav/calendars/user/carol@example.org/Default/"
	for _, login := range []string{"carol@example.org", s.AdminUser} {
		req, _ := http.NewRequest(http.MethodPut, s.URL+cal+login+".ics", bytes.NewReader(vevent(login, "by "+login)))
		req.Header.Set("Content-Type", "text/calendar; charset=utf-8")
		resp, err := s.HTTPClient(login).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("PUT as %s = %s", login, resp.Status)
		}
	}
	if got := hrefs(s.Objects(t, "carol@example.org", testenv.KindCalendar)[cal]); len(got) != 2 {
		t.Errorf("Objects(carol@example.org)[%s] = %v", cal, got)
	}
}
