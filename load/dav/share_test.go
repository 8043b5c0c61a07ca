package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/load/davtest"
	"github.com/bascule-migrate/bascule/model"
)

// cyrusACL is DAV:acl as Cyrus 3.6 gives it to the admin (owner and requester as
// DAV:owner/DAV:self, which are not RFC 3744 principals but Cyrus reads them back).
const cyrusACL = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:response><D:href>/dav/calendars/user/alice/Default/</D:href><D:propstat><D:prop><D:acl>
<D:ace><D:principal><D:owner/></D:principal><D:grant><D:privilege><D:all/></D:privilege></D:grant></D:ace>
<D:ace><D:principal><D:all/></D:principal><D:grant><D:privilege><C:read-free-busy/></D:privilege></D:grant></D:ace>
<D:ace><D:principal><D:self/></D:principal><D:grant><D:privilege><D:all/></D:privilege></D:grant></D:ace>
<D:ace><D:principal><D:href>/dav/principals/user/bob/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege><D:privilege><D:write-properties/></D:privilege></D:grant></D:ace>
<D:ace><D:principal><D:href>http://h/dav/principals/user/carol%40example.org/</D:href></D:principal><D:deny><D:privilege><D:write/></D:privilege></D:deny></D:ace>
<D:ace><D:principal><D:href>/dav/principals/user/root/</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege></D:grant><D:protected/></D:ace>
</D:acl></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`

func TestParseRenderACL(t *testing.T) {
	aces, ok, err := parseACL([]byte(cyrusACL))
	if err != nil || !ok || len(aces) != 6 {
		t.Fatalf("parseACL = %d ACEs, %v, %v; want 6", len(aces), ok, err)
	}
	if got := aces[3].principalHref(); got != "/dav/principals/user/bob/" {
		t.Errorf("ACE 3 principal = %q", got)
	}
	if got := aces[4].principalHref(); got != "/dav/principals/user/carol@example.org/" {
		t.Errorf("ACE 4 principal = %q (absolute, escaped)", got)
	}
	w := &writer{s: &Sink{}, account: "alice", principal: "/dav/principals/user/alice/"}
	if p := w.principalFor("dave"); p != "/dav/principals/user/dave/" {
		t.Errorf("principalFor(dave) = %q", p)
	}
	grant, _ := w.granted(aces, "bob")
	if !covers(grant, xml.Name{Space: "DAV:", Local: "read"}) || !covers(grant, xml.Name{Space: "urn:ietf:params:xml:ns:caldav", Local: "read-free-busy"}) || covers(grant, xml.Name{Space: "DAV:", Local: "bind"}) {
		t.Errorf("bob's grant %v: want read (and so read-free-busy), no bind", grant)
	}
	_, deny := w.granted(aces, "carol@example.org")
	if len(deny) != 1 || deny[0].Local != "write" {
		t.Errorf("carol's deny = %v", deny)
	}

	body, err := renderACL(aces[:5], "/dav/principals/user/dave/", wantPrivs(model.KindCalendar, true))
	if err != nil {
		t.Fatal(err)
	}
	// Sent back: the five unprotected ACEs unchanged, then dave's; the protected one is not sent.
	again, ok, err := parseACL([]byte(`<D:multistatus xmlns:D="DAV:"><D:response><D:propstat><D:prop>` + string(bytes.TrimPrefix(body, []byte(`<?xml version="1.0" encoding="utf-8"?>`))) + `</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`))
	if err != nil || !ok || len(again) != 6 {
		t.Fatalf("rendered ACL reads back as %d ACEs, %v, %v:\n%s", len(again), ok, err, body)
	}
	for i := range 5 {
		if a, b := aces[i], again[i]; a.principalHref() != b.principalHref() || a.Principal.Children[0].XMLName != b.Principal.Children[0].XMLName ||
			!equalNames(a.Grant.names(), b.Grant.names()) || !equalNames(a.Deny.names(), b.Deny.names()) {
			t.Errorf("ACE %d changed on the way back:\n%+v\n%+v", i, a, b)
		}
	}
	if got := again[5].principalHref(); got != "/dav/principals/user/dave/" || !equalNames(again[5].Grant.names(), wantPrivs(model.KindCalendar, true)) {
		t.Errorf("new ACE = %s %v", got, again[5].Grant.names())
	}
	if bytes.Contains(body, []byte("root")) {
		t.Errorf("the protected ACE was sent:\n%s", body)
	}
	// An inverted principal cannot be sent back as it is.
	inv := aces[3]
	inv.Invert = &xmlNode{}
	if _, err := renderACL([]ace{inv}, "/p/", nil); !errors.Is(err, errNoRoundTrip) {
		t.Errorf("renderACL(inverted) = %v, want errNoRoundTrip", err)
	}
}

func equalNames(a, b []xml.Name) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseACL: whatever a server answers, reading and rewriting its ACL never panics, and what
// is sent is well-formed XML.
func FuzzParseACL(f *testing.F) {
	f.Add([]byte(cyrusACL))
	f.Add([]byte(`<multistatus xmlns="DAV:"><response><propstat><status>HTTP/1.1 200 OK</status><prop><acl><ace><principal><property><owner/></property></principal><grant><privilege/></grant></ace></acl></prop></propstat></response></multistatus>`))
	f.Add([]byte(`<D:multistatus xmlns:D="DAV:"><D:response><D:propstat><D:prop><D:acl><D:ace><D:principal><D:href>%zz</D:href></D:principal><D:grant><D:privilege><X:p xmlns:X="a&quot;b"/></D:privilege></D:grant></D:ace></D:acl></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		aces, ok, err := parseACL(data)
		if err != nil || !ok {
			return
		}
		w := &writer{s: &Sink{}, account: "alice", principal: "/p/alice/"}
		for i := range aces {
			aces[i].principalHref()
			w.granted(aces, "bob")
		}
		body, err := renderACL(aces, "/p/bob/", wantPrivs(model.KindCalendar, true))
		if err != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(body))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("rendered ACL is not XML: %v\n%s", err, body)
			}
		}
	})
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// davDo sends one request as login and returns its status and body.
func davDo(t *testing.T, s *testenv.DAVServer, login, method, href, depth string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+href, rd)
	if err != nil {
		t.Fatal(err)
	}
	if depth != "" {
		req.Header.Set("Depth", depth)
	}
	if body != nil {
		req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	}
	resp, err := s.HTTPClient(login).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

const ownerPropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:owner/><D:displayname/></D:prop></D:propfind>`

// homeListing lists login's own calendar or address book home (Depth 1): href → owner.
func homeListing(t *testing.T, s *testenv.DAVServer, login, home string) map[string]string {
	t.Helper()
	st, data := davDo(t, s, login, "PROPFIND", home, "1", []byte(ownerPropfind))
	if st != http.StatusMultiStatus {
		t.Fatalf("PROPFIND %s as %s = %d", home, login, st)
	}
	var ms struct {
		Responses []struct {
			Href  string `xml:"href"`
			Owner string `xml:"propstat>prop>owner>href"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal(data, &ms); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range ms.Responses {
		out[r.Href] = r.Owner
	}
	return out
}

// notifications returns how many notifications login's Cyrus notification collection holds
// (share-resource leaves an invitation there; ACL does not).
func notifications(t *testing.T, s *testenv.DAVServer, login string) int {
	t.Helper()
	st, data := davDo(t, s, login, "PROPFIND", "/dav/notifications/user/"+login+"/", "1", []byte(ownerPropfind))
	if st != http.StatusMultiStatus {
		t.Fatalf("PROPFIND notifications of %s = %d", login, st)
	}
	return bytes.Count(data, []byte(".xml</D:href>"))
}

// TestCyrusShareDelegateView finds out where a shared calendar and address book appear for
// the delegate on Cyrus as the test servers run it (fastmailsharing): besides the owner's URL,
// in the delegate's own home listing under /dav/<kind>/zzzz/<owner>/<name>/, which serves the
// same objects; the share came with an invitation in the delegate's notification collection.
func TestCyrusShareDelegateView(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob")
	sink := newSink(t, Config{URL: s.URL, Passwords: s.Users})
	cw, err := sink.Open(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	w := cw.(*writer)
	for _, c := range []struct {
		kind model.CollectionKind
		home string
		data []byte
		name string
		text string
	}{
		{model.KindCalendar, "/dav/calendars/user/bob/", davtest.Event("view-ev", "seen by bob"), "view-ev.ics", "seen by bob"},
		{model.KindContacts, "/dav/addressbooks/user/bob/", davtest.Card("view-card", "Seen By Bob"), "view-card.vcf", "Seen By Bob"},
	} {
		col, err := w.EnsureCollection(t.Context(), model.Collection{ID: "view-" + string(c.kind), Kind: c.kind, Name: "Vue"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Put(t.Context(), col, load.Resource{Name: c.name, Data: c.data}); err != nil {
			t.Fatal(err)
		}
		if err := w.Share(t.Context(), col, "bob", false); err != nil {
			t.Fatalf("Share(%s) = %v", col.Href, err)
		}
		listed := homeListing(t, s, "bob", c.home)
		var shared string
		base := "/" + path.Base(col.Href) + "/"
		for href, owner := range listed {
			if owner == "/dav/principals/user/alice/" && strings.HasSuffix(href, base) {
				shared = href
			}
		}
		t.Logf("%s: bob's home %s lists %v", col.Href, c.home, listed)
		if shared == "" {
			t.Errorf("bob's home %s does not list alice's shared %s: %v", c.home, col.Href, listed)
			continue
		}
		if !strings.Contains(shared, "/zzzz/alice/") {
			t.Errorf("shared %s listed as %s, expected Cyrus' /zzzz/alice/ form", col.Href, shared)
		}
		st, data := davDo(t, s, "bob", http.MethodGet, shared+c.name, "", nil)
		if st != http.StatusOK || !bytes.Contains(data, []byte(c.text)) {
			t.Errorf("GET %s%s as bob = %d\n%s", shared, c.name, st, data)
		}
	}
	if n := notifications(t, s, "bob"); n == 0 {
		t.Errorf("bob has no share invitation")
	}
}

// TestCyrusShareACLMethod takes the RFC 3744 path on Cyrus: it works there once every
// principal the ACL names resolves, which in Cyrus 3.6 means the user has a WebDAV #drive
// home (created here over IMAP). Cyrus then applies the ACL and answers 500 because its
// scheduling Outbox is missing (caldav_allowscheduling off); Share reads the ACL back and
// succeeds. No invitation is sent on this path, which tells it from share-resource.
func TestCyrusShareACLMethod(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob", "carol")
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(s.AdminUser, s.AdminPass).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		if err := c.Create("user/"+u+"/#drive", nil).Wait(); err != nil {
			t.Fatalf("CREATE user/%s/#drive = %v", u, err)
		}
	}
	// The admin's own ACE reads back as DAV:self, the owner's as DAV:owner: both resolve.
	var log bytes.Buffer
	admin := newSink(t, Config{URL: s.URL, Auth: "admin", AdminUser: s.AdminUser, AdminPassword: s.AdminPass, PrincipalTemplate: "/dav/principals/user/{user}/",
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	defer func() { t.Logf("sink log:\n%s", log.String()) }()
	s.DisplayNames(t, "alice", testenv.KindCalendar)
	cw, err := admin.Open(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	col, err := cw.EnsureCollection(t.Context(), model.Collection{ID: "acl-path", Kind: model.KindCalendar, Name: "ACL"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cw.Put(t.Context(), col, load.Resource{Name: "acl-ev.ics", Data: davtest.Event("acl-ev", "through ACL")})
	if err != nil {
		t.Fatal(err)
	}
	sh := cw.(load.CollectionSharer)
	if err := sh.Share(t.Context(), col, "bob", false); err != nil {
		t.Fatalf("Share(bob, read) = %v", err)
	}
	if err := sh.Share(t.Context(), col, "carol", true); err != nil {
		t.Fatalf("Share(carol, write) = %v", err)
	}
	for _, u := range []string{"bob", "carol"} {
		if n := notifications(t, s, u); n != 0 {
			t.Errorf("%s has %d notifications: the share went through share-resource, not ACL", u, n)
		}
	}
	if st, _ := davDo(t, s, "bob", http.MethodGet, ev.Href, "", nil); st != http.StatusOK {
		t.Errorf("GET %s as bob = %d", ev.Href, st)
	}
	put := func(login, name string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, s.URL+col.Href+name, bytes.NewReader(davtest.Event(strings.TrimSuffix(name, ".ics"), "by "+login)))
		req.Header.Set("Content-Type", "text/calendar")
		resp, err := s.HTTPClient(login).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := put("bob", "acl-bob.ics"); st != http.StatusForbidden {
		t.Errorf("PUT as bob = %d, want 403", st)
	}
	if st := put("carol", "acl-carol.ics"); st != http.StatusCreated {
		t.Errorf("PUT as carol = %d, want 201", st)
	}
	// The admin keeps its rights.
	if _, err := cw.Put(t.Context(), col, load.Resource{Name: "acl-admin.ics", Data: davtest.Event("acl-admin", "admin again")}); err != nil {
		t.Errorf("admin Put after the ACL = %v", err)
	}
}
