package davtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// testShare: the owner shares a calendar (through Sink) and an address book (through Admin
// when there is one, else Sink) with Reader read-only and Writer read-write; each delegate
// then works on the owner's collection URL with their own password and gets exactly what the
// grant says, the stranger gets nothing, and the owner's and admin's entries stay in the ACL.
func testShare(t *testing.T, h Harness) {
	w := open(t, h.Sink, h.Account)
	sharer, ok := w.(load.CollectionSharer)
	if !ok {
		t.Fatalf("%T does not implement load.CollectionSharer (a server that cannot share must say so with load.ErrUnsupported)", w)
	}
	if h.ShareUnsupported {
		for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts} {
			col := ensure(t, w, model.Collection{ID: "share-unsupported-" + string(k) + h.run, Kind: k, Name: "Not shareable"})
			err := sharer.Share(ctxT(t), col, h.Reader, false)
			t.Logf("Share(%s) = %v", k, err)
			if !errors.Is(err, load.ErrUnsupported) {
				t.Errorf("Share(%s %s, %s) = %v, want load.ErrUnsupported", k, col.Href, h.Reader, err)
			}
		}
		return
	}
	t.Run("Calendar", func(t *testing.T) { shareCase(t, h, h.Sink, model.KindCalendar) })
	t.Run("AddressBook", func(t *testing.T) {
		s := h.Sink
		if h.Admin != nil {
			s = h.Admin
		}
		shareCase(t, h, s, model.KindContacts)
	})
}

func shareCase(t *testing.T, h Harness, sink load.GroupwareSink, kind model.CollectionKind) {
	ctx := ctxT(t)
	// Every account has used DAV once (Cyrus creates a user's homes only then).
	for _, u := range []string{h.Account, h.Reader, h.Writer, h.Stranger} {
		if u != "" {
			names(t, h, u, kind)
		}
	}
	w := open(t, sink, h.Account)
	sharer := w.(load.CollectionSharer)
	col := ensure(t, w, model.Collection{ID: "shared-" + string(kind) + h.run, Kind: kind, Name: "Partagé — " + string(kind)})
	obj := func(uid, text string) (string, []byte) {
		if kind == model.KindContacts {
			return uid + ".vcf", Card(uid, text)
		}
		return uid + ".ics", Event(uid, text)
	}
	name, data := obj("owned"+h.run, "Owner's item")
	owned, err := w.Put(ctx, col, load.Resource{Name: name, Data: data})
	if err != nil {
		t.Fatalf("Put(%s) = %v", name, err)
	}
	before := readACL(t, h, h.Account, col.Href)

	// Write first, then read only: a share replaces the grantee's access, it does not add.
	for _, s := range []struct {
		who   string
		write bool
	}{{h.Reader, true}, {h.Reader, false}, {h.Writer, true}, {h.Writer, true}} {
		if err := sharer.Share(ctx, col, s.who, s.write); err != nil {
			t.Fatalf("Share(%s, %s, write=%v) = %v", col.Href, s.who, s.write, err)
		}
	}
	if err := sharer.Share(ctx, col, h.Account, true); err != nil {
		t.Errorf("Share with the owner = %v, want nil (nothing to do)", err)
	}

	// Nobody else lost or gained anything (the owner's and the admin's entries are kept).
	after := readACL(t, h, h.Account, col.Href)
	t.Logf("ACL of %s after sharing: %v", col.Href, after)
	for p, privs := range before {
		if isOf(p, h.Reader) || isOf(p, h.Writer) {
			continue
		}
		if got, ok := after[p]; !ok || !slices.Equal(got, privs) {
			t.Errorf("ACL entry %s: %v before sharing, %v after", p, privs, got)
		}
	}
	for p, privs := range after {
		if _, old := before[p]; !old && !isOf(p, h.Reader) && !isOf(p, h.Writer) {
			t.Errorf("ACL entry %s %v appeared", p, privs)
		}
	}

	// The reader: discovery, listing, query, GET; no write of any kind.
	d := delegate{t: t, h: h, login: h.Reader, col: col.Href, kind: kind}
	d.discover()
	d.sees(owned.Href, "Owner's item")
	name, data = obj("by-reader"+h.run, "written by the reader")
	d.status("PUT new", http.MethodPut, col.Href+name, http.Header{"If-None-Match": {"*"}}, data, http.StatusForbidden)
	_, upd := obj("owned"+h.run, "Owner's item, changed by the reader")
	d.status("PUT over", http.MethodPut, owned.Href, http.Header{"If-Match": {owned.ETag}}, upd, http.StatusForbidden)
	d.status("DELETE", http.MethodDelete, owned.Href, nil, nil, http.StatusForbidden)
	d.privileges(false)

	// The writer: reads, creates, modifies, deletes.
	d = delegate{t: t, h: h, login: h.Writer, col: col.Href, kind: kind}
	d.discover()
	d.sees(owned.Href, "Owner's item")
	name, data = obj("by-writer"+h.run, "written by the writer")
	d.status("PUT new", http.MethodPut, col.Href+name, http.Header{"If-None-Match": {"*"}}, data, http.StatusCreated)
	d.sees(col.Href+name, "written by the writer")
	_, upd = obj("owned"+h.run, "Owner's item, changed by the writer")
	d.status("PUT over", http.MethodPut, owned.Href, http.Header{"If-Match": {owned.ETag}}, upd, http.StatusNoContent, http.StatusOK, http.StatusCreated)
	d.sees(owned.Href, "changed by the writer")
	d.status("DELETE", http.MethodDelete, col.Href+name, nil, nil, http.StatusNoContent, http.StatusOK)
	d.privileges(true)

	// The stranger: nothing.
	if h.Stranger != "" {
		d = delegate{t: t, h: h, login: h.Stranger, col: col.Href, kind: kind}
		d.status("GET", http.MethodGet, owned.Href, nil, nil, http.StatusForbidden, http.StatusNotFound)
		name, data = obj("by-stranger"+h.run, "written by a stranger")
		d.status("PUT new", http.MethodPut, col.Href+name, http.Header{"If-None-Match": {"*"}}, data, http.StatusForbidden, http.StatusNotFound)
		d.status("PROPFIND", "PROPFIND", col.Href, http.Header{"Depth": {"1"}}, nil, http.StatusForbidden, http.StatusNotFound)
	}

	// The owner still writes there.
	name, data = obj("owned-after"+h.run, "Owner again")
	if _, err := w.Put(ctx, col, load.Resource{Name: name, Data: data}); err != nil {
		t.Errorf("owner Put after sharing = %v", err)
	}
}

// isOf says whether an ACL key (a principal path) names login.
func isOf(key, login string) bool {
	return strings.HasSuffix(strings.TrimSuffix(key, "/"), "/"+login)
}

// delegate checks what one user can do on a shared collection with their own password.
type delegate struct {
	t     *testing.T
	h     Harness
	login string
	col   string
	kind  model.CollectionKind
}

func (d delegate) do(method, href string, hdr http.Header, body []byte) (int, []byte) {
	d.t.Helper()
	u, err := url.Parse(d.h.Server.URL)
	if err != nil {
		d.t.Fatal(err)
	}
	u.Path = href
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(d.t), method, u.String(), rd)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		ct := "text/calendar; charset=utf-8"
		if d.kind == model.KindContacts {
			ct = "text/vcard; charset=utf-8"
		}
		if method == "PROPFIND" || method == "REPORT" {
			ct = `application/xml; charset="utf-8"`
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := d.h.Server.HTTPClient(d.login).Do(req)
	if err != nil {
		d.t.Fatalf("%s %s as %s: %v", method, href, d.login, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data
}

// status sends one request and checks its status is one of want.
func (d delegate) status(what, method, href string, hdr http.Header, body []byte, want ...int) {
	d.t.Helper()
	got, data := d.do(method, href, hdr, body)
	if !slices.Contains(want, got) {
		d.t.Errorf("%s: %s %s as %s = %d, want %v\n%s", what, method, href, d.login, got, want, clipText(data))
	}
}

func clipText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// discover finds the delegate's own principal the way a client does.
func (d delegate) discover() {
	d.t.Helper()
	c, err := caldav.NewClient(d.h.Server.HTTPClient(d.login), d.h.Server.URL)
	if err != nil {
		d.t.Fatal(err)
	}
	p, err := c.FindCurrentUserPrincipal(ctxT(d.t))
	if err != nil {
		d.t.Fatalf("%s: FindCurrentUserPrincipal = %v", d.login, err)
	}
	if want := d.h.Server.PrincipalURL(d.login); strings.TrimSuffix(p, "/") != strings.TrimSuffix(want, "/") {
		d.t.Errorf("%s: current-user-principal = %s, want %s", d.login, p, want)
	}
}

// sees checks that the delegate finds href in the collection by PROPFIND and by REPORT, and
// that a GET of it holds text.
func (d delegate) sees(href, text string) {
	d.t.Helper()
	st, data := d.do("PROPFIND", d.col, http.Header{"Depth": {"1"}}, []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`))
	if st != http.StatusMultiStatus || !bytes.Contains(data, []byte(href)) {
		d.t.Errorf("%s: PROPFIND Depth 1 %s = %d, want 207 listing %s\n%s", d.login, d.col, st, href, clipText(data))
	}
	var found []string
	ctx := ctxT(d.t)
	if d.kind == model.KindContacts {
		c, err := carddav.NewClient(d.h.Server.HTTPClient(d.login), d.h.Server.URL)
		if err != nil {
			d.t.Fatal(err)
		}
		objs, err := c.QueryAddressBook(ctx, d.col, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
		if err != nil {
			d.t.Errorf("%s: REPORT addressbook-query %s = %v", d.login, d.col, err)
		}
		for _, o := range objs {
			found = append(found, o.Path)
		}
	} else {
		c, err := caldav.NewClient(d.h.Server.HTTPClient(d.login), d.h.Server.URL)
		if err != nil {
			d.t.Fatal(err)
		}
		objs, err := c.QueryCalendar(ctx, d.col, &caldav.CalendarQuery{
			CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
			CompFilter:  caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{Name: "VEVENT"}}},
		})
		if err != nil {
			d.t.Errorf("%s: REPORT calendar-query %s = %v", d.login, d.col, err)
		}
		for _, o := range objs {
			found = append(found, o.Path)
		}
	}
	if !slices.Contains(found, href) {
		d.t.Errorf("%s: REPORT on %s found %v, want %s among them", d.login, d.col, found, href)
	}
	st, data = d.do(http.MethodGet, href, nil, nil)
	if st != http.StatusOK || !bytes.Contains(data, []byte(text)) {
		d.t.Errorf("%s: GET %s = %d, want 200 holding %q\n%s", d.login, href, st, text, clipText(data))
	}
}

// privileges checks the collection's current-user-privilege-set (RFC 3744 §5.4) as the
// delegate: read always; write-content, bind and unbind exactly when write.
func (d delegate) privileges(write bool) {
	d.t.Helper()
	st, data := d.do("PROPFIND", d.col, http.Header{"Depth": {"0"}}, []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-privilege-set/></D:prop></D:propfind>`))
	if st != http.StatusMultiStatus {
		d.t.Fatalf("%s: PROPFIND current-user-privilege-set %s = %d\n%s", d.login, d.col, st, clipText(data))
	}
	var ms struct {
		Privs []privilege `xml:"response>propstat>prop>current-user-privilege-set>privilege"`
	}
	if err := xml.Unmarshal(data, &ms); err != nil {
		d.t.Fatalf("%s: current-user-privilege-set: %v", d.login, err)
	}
	has := map[string]bool{}
	for _, p := range ms.Privs {
		for _, n := range p.Names {
			has[n.XMLName.Local] = true
			switch n.XMLName.Local {
			case "all":
				for _, a := range []string{"read", "read-free-busy", "write", "write-content", "bind", "unbind"} {
					has[a] = true
				}
			case "write":
				for _, a := range []string{"write-content", "bind", "unbind"} {
					has[a] = true
				}
			case "read":
				// RFC 4791 §6.1.1: DAV:read aggregates CALDAV:read-free-busy.
				has["read-free-busy"] = true
			}
		}
	}
	d.t.Logf("%s: current-user-privilege-set on %s: %v", d.login, d.col, keys(has))
	if !has["read"] {
		d.t.Errorf("%s: current-user-privilege-set lacks read: %v", d.login, keys(has))
	}
	if d.kind != model.KindContacts && !has["read-free-busy"] {
		d.t.Errorf("%s: current-user-privilege-set lacks read-free-busy: %v", d.login, keys(has))
	}
	for _, p := range []string{"write-content", "bind", "unbind"} {
		if has[p] != write {
			d.t.Errorf("%s: current-user-privilege-set has %s = %v, want %v (%v)", d.login, p, has[p], write, keys(has))
		}
	}
}

type privilege struct {
	Names []struct{ XMLName xml.Name } `xml:",any"`
}

func keys(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// readACL reads a collection's DAV:acl as login: principal → sorted privileges ("grant:" or
// "deny:" each). A principal that is not an href is keyed by its element name ("all", "self").
func readACL(t *testing.T, h Harness, login, href string) map[string][]string {
	t.Helper()
	d := delegate{t: t, h: h, login: login, col: href}
	st, data := d.do("PROPFIND", href, http.Header{"Depth": {"0"}}, []byte(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:acl/></D:prop></D:propfind>`))
	if st != http.StatusMultiStatus {
		t.Fatalf("PROPFIND acl %s as %s = %d\n%s", href, login, st, clipText(data))
	}
	var ms struct {
		ACEs []struct {
			Principal struct {
				Href  string                       `xml:"href"`
				Other []struct{ XMLName xml.Name } `xml:",any"`
			} `xml:"principal"`
			Grant []privilege `xml:"grant>privilege"`
			Deny  []privilege `xml:"deny>privilege"`
		} `xml:"response>propstat>prop>acl>ace"`
	}
	if err := xml.Unmarshal(data, &ms); err != nil {
		t.Fatalf("acl of %s: %v", href, err)
	}
	out := map[string][]string{}
	for _, a := range ms.ACEs {
		key := strings.TrimSpace(a.Principal.Href)
		if u, err := url.Parse(key); err == nil && key != "" {
			key = u.Path
		}
		if key == "" && len(a.Principal.Other) > 0 {
			key = a.Principal.Other[0].XMLName.Local
		}
		for _, set := range []struct {
			tag   string
			privs []privilege
		}{{"grant:", a.Grant}, {"deny:", a.Deny}} {
			for _, p := range set.privs {
				for _, n := range p.Names {
					out[key] = append(out[key], set.tag+n.XMLName.Local)
				}
			}
		}
		sort.Strings(out[key])
	}
	if len(out) == 0 {
		t.Fatalf("acl of %s as %s is empty:\n%s", href, login, clipText(data))
	}
	return out
}
