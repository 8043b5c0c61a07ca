package dav

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// writer is one account's session: its homes, found once at Open, and the collections it has
// ensured. Requests from many goroutines share the account's client (at most Parallel at once).
type writer struct {
	s       *Sink
	account string
	c       *client
	cal     *caldav.Client
	card    *carddav.Client

	principal       string
	calHome, abHome string // "" when the server offers no such home
	scheduleDefault string // the schedule-default-calendar-URL (RFC 6638), "" if none

	mu   sync.Mutex // serialises EnsureCollection, so two callers never create one twice
	refs map[string]load.CollectionRef
}

var _ load.CollectionWriter = (*writer)(nil)

func (s *Sink) open(ctx context.Context, account string) (*writer, error) {
	user, pass := account, ""
	if s.cfg.Auth == "admin" {
		user, pass = s.cfg.AdminUser, s.cfg.AdminPassword
	} else {
		pw, ok := s.cfg.Passwords[account]
		if !ok {
			return nil, model.Permanent(fmt.Errorf("dav: no password for target account %q (add it to the mapping file, or use an admin login)", account))
		}
		pass = pw
	}
	w := &writer{s: s, account: account, refs: map[string]load.CollectionRef{},
		c: &client{hc: s.hc, user: user, pass: pass, sem: make(chan struct{}, s.cfg.Parallel)}}

	ctxPath, err := w.contextPath(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := w.url(ctxPath)
	if w.cal, err = caldav.NewClient(w.c, endpoint); err != nil {
		return nil, model.Permanent(fmt.Errorf("dav: %w", err))
	}
	if w.card, err = carddav.NewClient(w.c, endpoint); err != nil {
		return nil, model.Permanent(fmt.Errorf("dav: %w", err))
	}
	tctx, ex := track(ctx)
	own, err := w.cal.FindCurrentUserPrincipal(tctx)
	if err != nil {
		return nil, atOpen(ex, classify(fmt.Sprintf("dav: finding the principal of %q at %s", user, endpoint), ex, err))
	}
	w.principal = own
	var ownCal, ownAB string
	if s.cfg.Auth == "admin" {
		if w.principal, err = s.principalOf(own, account); err != nil {
			return nil, err
		}
		// Some servers (Cyrus) answer the requester's own home for anybody's principal: know
		// the admin's homes to tell.
		ownCal, _ = w.cal.FindCalendarHomeSet(ctx, own)
		ownAB, _ = w.card.FindAddressBookHomeSet(ctx, own)
	}

	tctx, ex = track(ctx)
	home, err := w.cal.FindCalendarHomeSet(tctx, w.principal)
	if err = w.homeErr("calendar-home-set", ex, err); err != nil {
		return nil, err
	}
	if home, err = s.homeOf(home, ownCal, account); err != nil {
		return nil, err
	}
	w.calHome = dirPath(home)
	tctx, ex = track(ctx)
	home, err = w.card.FindAddressBookHomeSet(tctx, w.principal)
	if err = w.homeErr("addressbook-home-set", ex, err); err != nil {
		return nil, err
	}
	if home, err = s.homeOf(home, ownAB, account); err != nil {
		return nil, err
	}
	w.abHome = dirPath(home)
	if w.calHome == "" && w.abHome == "" {
		return nil, model.Permanent(fmt.Errorf("dav: principal %s of %q has neither a calendar nor an address book home", w.principal, account))
	}
	if w.calHome != "" {
		w.scheduleDefault = w.findScheduleDefault(ctx)
	}
	s.cfg.Logger.Debug("dav: discovered", "account", account, "principal", w.principal, "calendars", w.calHome, "addressbooks", w.abHome, "scheduleDefault", w.scheduleDefault)
	return w, nil
}

// atOpen makes a refusal at Open fatal: 401 (bad credentials, classify does it) and 403 (the
// admin may not act for this account) hold for every account alike.
func atOpen(ex *exchange, err error) error {
	if err != nil && ex.status == http.StatusForbidden {
		return model.Fatal(err)
	}
	return err
}

// homeErr classifies the failure to read a home set; a server that simply lacks the
// property (no CalDAV, or no CardDAV) is not an error: that home stays "".
func (w *writer) homeErr(prop string, ex *exchange, err error) error {
	if err == nil {
		return nil
	}
	if ex.status == http.StatusMultiStatus {
		w.s.cfg.Logger.Debug("dav: no home", "account", w.account, "property", prop, "err", err)
		return nil
	}
	err = classify(fmt.Sprintf("dav: reading %s of %q at %s", prop, w.account, w.principal), ex, err)
	if errors.Is(err, model.ErrNotFound) {
		return model.Permanent(fmt.Errorf("%w (is the account %q known to the server? Cyrus creates a user's DAV homes only at their own first DAV request)", err, w.account))
	}
	return atOpen(ex, err)
}

// contextPath finds where discovery starts (RFC 6764 §5): /.well-known/caldav (then carddav)
// under the base URL, following redirects on the same server by hand; the base URL itself
// when the server has no well-known URI.
func (w *writer) contextPath(ctx context.Context) (string, error) {
	what := func(p string) string { return fmt.Sprintf("dav: discovery at %s as %q", p, w.c.user) }
	for _, svc := range []string{"caldav", "carddav"} {
		p := path.Join(w.s.base.Path, ".well-known", svc)
		if w.s.base.Path != "/" {
			// The well-known URIs live at the server's root (RFC 8615).
			p = "/.well-known/" + svc
		}
	hops:
		for hop := 0; hop < 5; hop++ {
			ex, _, err := w.c.do(ctx, "PROPFIND", w.url(p), http.Header{"Depth": {"0"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(principalPropfind))
			if err != nil {
				return "", classify(what(p), ex, err)
			}
			switch st := ex.status; {
			case st == http.StatusMultiStatus:
				return p, nil
			case st == http.StatusUnauthorized:
				return "", classify(what(p), ex, nil)
			case st >= 500:
				return "", statusErr(what(p), ex)
			case st/100 == 3:
				loc, err := url.Parse(ex.header.Get("Location"))
				if err != nil || ex.header.Get("Location") == "" {
					return "", model.Permanent(fmt.Errorf("dav: discovery at %s: redirect without a usable Location", p))
				}
				next := w.s.base.ResolveReference(&url.URL{Path: p}).ResolveReference(loc)
				if next.Host != w.s.base.Host || next.Scheme != w.s.base.Scheme {
					return "", model.Permanent(fmt.Errorf("dav: discovery at %s redirects to %s: use that URL as the server URL", p, next.Redacted()))
				}
				p = next.Path
				continue
			}
			break hops // 404, 405…: try the next service, then the base URL
		}
	}
	return w.s.base.Path, nil
}

const principalPropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>`

// principalOf returns account's principal in admin mode.
func (s *Sink) principalOf(adminPrincipal, account string) (string, error) {
	if t := s.cfg.PrincipalTemplate; t != "" {
		p := strings.ReplaceAll(t, "{user}", url.PathEscape(account))
		if u, err := url.Parse(p); err == nil && u.Path != "" {
			return u.Path, nil
		}
		return "", model.Fatal(fmt.Errorf("dav: principal template %q gives no path for %q", t, account))
	}
	segs := strings.Split(adminPrincipal, "/")
	found := -1
	for i, seg := range segs {
		if seg == s.cfg.AdminUser {
			found = i
		}
	}
	if found < 0 {
		return "", model.Fatal(fmt.Errorf("dav: the admin's principal %s does not hold its login %q: set a principal template", adminPrincipal, s.cfg.AdminUser))
	}
	segs[found] = account
	return strings.Join(segs, "/"), nil
}

// homeOf returns the account's home given what its principal answered: in admin mode, a
// server that gave the admin's own home (Cyrus: the admin's home, or a path naming the admin
// and not the account) gets the account's in its place, derived by replacing the admin's
// login in the path.
func (s *Sink) homeOf(home, adminHome, account string) (string, error) {
	if s.cfg.Auth != "admin" || home == "" {
		return home, nil
	}
	segs := strings.Split(home, "/")
	if dirPath(home) != dirPath(adminHome) && (!slices.Contains(segs, s.cfg.AdminUser) || slices.Contains(segs, account)) {
		return home, nil
	}
	for i, seg := range segs {
		if seg == s.cfg.AdminUser {
			segs[i] = account
			return strings.Join(segs, "/"), nil
		}
	}
	// Writing there would write into the admin's own collections.
	return "", model.Fatal(fmt.Errorf("dav: the server gives the admin's own home %s for the principal of %q, and the path does not name the admin: cannot find that account's home", home, account))
}

// url makes an absolute URL of a server path (decoded form; escaped here).
func (w *writer) url(p string) string {
	u := url.URL{Scheme: w.s.base.Scheme, Host: w.s.base.Host, Path: p}
	return u.String()
}

func dirPath(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// findScheduleDefault reads the schedule-default-calendar-URL (RFC 6638 §9.2) from the
// principal's scheduling inbox. Best effort: most servers without scheduling have none.
func (w *writer) findScheduleDefault(ctx context.Context) string {
	inbox := w.propHref(ctx, w.principal, "urn:ietf:params:xml:ns:caldav", "schedule-inbox-URL")
	if inbox == "" {
		return ""
	}
	return dirPath(w.propHref(ctx, inbox, "urn:ietf:params:xml:ns:caldav", "schedule-default-calendar-URL"))
}

// propHref reads one property holding a DAV:href; "" when absent or on any error.
func (w *writer) propHref(ctx context.Context, p, space, local string) string {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:X=%q><D:prop><X:%s/></D:prop></D:propfind>`, space, local)
	ex, data, err := w.c.do(ctx, "PROPFIND", w.url(p), http.Header{"Depth": {"0"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(body))
	if err != nil || ex.status != http.StatusMultiStatus {
		return ""
	}
	var ms multistatus
	if xml.Unmarshal(data, &ms) != nil {
		return ""
	}
	for _, r := range ms.Responses {
		for _, ps := range r.Propstats {
			if !ps.ok() {
				continue
			}
			for _, v := range ps.Prop.Any {
				if v.XMLName.Space == space && v.XMLName.Local == local && v.Href != "" {
					if u, err := url.Parse(strings.TrimSpace(v.Href)); err == nil {
						return u.Path
					}
				}
			}
		}
	}
	return ""
}

// multistatus is the part of a 207 answer this package reads itself.
type multistatus struct {
	Responses []struct {
		Href      string     `xml:"DAV: href"`
		Status    string     `xml:"DAV: status"` // for the whole resource (Cyrus: 404)
		Propstats []propstat `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// statusCode reads the code of an "HTTP/1.1 404 Not Found" status line (0 if none).
func statusCode(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

type propstat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		ETag string `xml:"DAV: getetag"`
		Any  []struct {
			XMLName xml.Name
			Href    string `xml:"DAV: href"`
		} `xml:",any"`
	} `xml:"DAV: prop"`
}

func (p propstat) ok() bool { return statusCode(p.Status) == http.StatusOK }

// collection is one collection found in a home.
type collection struct {
	href, name string
	comps      []string // supported components (calendars); empty = any
}

func (c collection) supports(comp string) bool {
	return len(c.comps) == 0 || slices.ContainsFunc(c.comps, func(s string) bool { return strings.EqualFold(s, comp) })
}

// component is the iCalendar component a collection of this kind holds ("" for contacts).
func component(k model.CollectionKind) string {
	switch k {
	case model.KindCalendar:
		return "VEVENT"
	case model.KindTasks:
		return "VTODO"
	}
	return ""
}

// CollectionName is the name of the collection created for a source collection: derived from
// its id only, so a rerun (or a second worker) finds the same one.
func CollectionName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "bascule-" + hex.EncodeToString(sum[:8])
}

// defaultNames are the names given to default collections created where the server has none
// (Radicale creates nothing by itself); they are also recognised as defaults on reruns.
var defaultNames = map[model.CollectionKind]string{
	model.KindCalendar: "calendar",
	model.KindTasks:    "tasks",
	model.KindContacts: "contacts",
}

func (w *writer) list(ctx context.Context, kind model.CollectionKind) (string, []collection, error) {
	var out []collection
	if kind == model.KindContacts {
		if w.abHome == "" {
			return "", nil, model.Permanent(fmt.Errorf("dav: the server offers %q no address book home (no CardDAV)", w.account))
		}
		tctx, ex := track(ctx)
		abs, err := w.card.FindAddressBooks(tctx, w.abHome)
		if err != nil {
			return "", nil, classify("dav: listing address books in "+w.abHome, ex, err)
		}
		for _, ab := range abs {
			out = append(out, collection{href: dirPath(ab.Path), name: ab.Name})
		}
		return w.abHome, out, nil
	}
	if w.calHome == "" {
		return "", nil, model.Permanent(fmt.Errorf("dav: the server offers %q no calendar home (no CalDAV)", w.account))
	}
	tctx, ex := track(ctx)
	cals, err := w.cal.FindCalendars(tctx, w.calHome)
	if err != nil {
		return "", nil, classify("dav: listing calendars in "+w.calHome, ex, err)
	}
	for _, c := range cals {
		out = append(out, collection{href: dirPath(c.Path), name: c.Name, comps: c.SupportedComponentSet})
	}
	return w.calHome, out, nil
}

// EnsureCollection finds or creates the collection for c. The source's default collection
// maps to the target's default of that kind: for events a calendar that holds VEVENTs (the
// schedule-default-calendar-URL if the server names one, else one named like a default, e.g.
// Cyrus's "Default", else the first); for tasks a calendar that holds VTODOs (one for tasks
// only first); for contacts the default or first address book. It is created when there is
// none. Other collections are named CollectionName(c.ID), reused if present, else created
// with c's display name and colour. Errors are classified as for Put.
func (w *writer) EnsureCollection(ctx context.Context, c model.Collection) (load.CollectionRef, error) {
	comp := component(c.Kind)
	if comp == "" && c.Kind != model.KindContacts {
		return load.CollectionRef{}, model.Permanent(fmt.Errorf("dav: unknown collection kind %q", c.Kind))
	}
	key := string(c.Kind) + "\x00" + c.ID
	if c.Default {
		key = string(c.Kind) + "\x00default"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ref, ok := w.refs[key]; ok {
		return ref, nil
	}
	home, cols, err := w.list(ctx, c.Kind)
	if err != nil {
		return load.CollectionRef{}, err
	}
	name := CollectionName(c.ID)
	if c.Default {
		if len(cols) == 0 {
			// A home that lists nothing may still hold collections the listing hides (Cyrus
			// lists a home only to its owner): look for the usual defaults one by one.
			for _, n := range []string{"Default", defaultNames[c.Kind]} {
				col, found, err := w.probe(ctx, home+n+"/", c.Kind)
				if err != nil {
					return load.CollectionRef{}, err
				}
				if found {
					cols = append(cols, col)
				}
			}
		}
		if col, ok := w.pickDefault(cols, c.Kind); ok {
			ref := load.CollectionRef{Href: col.href, Kind: c.Kind}
			w.refs[key] = ref
			return ref, nil
		}
		name = defaultNames[c.Kind]
	}
	href := home + name + "/"
	i := slices.IndexFunc(cols, func(col collection) bool { return col.href == href })
	var col collection
	found := i >= 0
	if found {
		col = cols[i]
	} else if col, found, err = w.probe(ctx, href, c.Kind); err != nil {
		return load.CollectionRef{}, err
	}
	if found {
		if comp != "" && !col.supports(comp) {
			return load.CollectionRef{}, model.Permanent(fmt.Errorf("dav: %s exists but holds no %s", href, comp))
		}
	} else if err := w.create(ctx, href, c); err != nil {
		return load.CollectionRef{}, err
	}
	ref := load.CollectionRef{Href: href, Kind: c.Kind}
	w.refs[key] = ref
	return ref, nil
}

const probePropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:resourcetype/><D:displayname/><C:supported-calendar-component-set/></D:prop></D:propfind>`

// probe reads one collection with a Depth 0 PROPFIND: found is false when nothing is there;
// something there that is not a collection of kind is a permanent error.
func (w *writer) probe(ctx context.Context, href string, kind model.CollectionKind) (collection, bool, error) {
	what := "dav: PROPFIND " + href
	ex, data, err := w.c.do(ctx, "PROPFIND", w.url(href), http.Header{"Depth": {"0"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(probePropfind))
	if err != nil {
		return collection{}, false, classify(what, ex, err)
	}
	if ex.status == http.StatusNotFound {
		return collection{}, false, nil
	}
	if ex.status != http.StatusMultiStatus {
		return collection{}, false, statusErr(what, ex)
	}
	var ms struct {
		Responses []struct {
			Status    string `xml:"DAV: status"`
			Propstats []struct {
				Status string `xml:"DAV: status"`
				Prop   struct {
					Types struct {
						Any []struct{ XMLName xml.Name } `xml:",any"`
					} `xml:"DAV: resourcetype"`
					Name  string `xml:"DAV: displayname"`
					Comps []struct {
						Name string `xml:"name,attr"`
					} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set>comp"`
				} `xml:"DAV: prop"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(data, &ms); err != nil || len(ms.Responses) == 0 {
		return collection{}, false, model.Retryable(fmt.Errorf("%s: unreadable answer", what))
	}
	r := ms.Responses[0]
	if statusCode(r.Status) == http.StatusNotFound {
		return collection{}, false, nil
	}
	col := collection{href: href}
	isKind := false
	for _, ps := range r.Propstats {
		if statusCode(ps.Status) != http.StatusOK {
			continue
		}
		for _, t := range ps.Prop.Types.Any {
			if (kind == model.KindContacts && t.XMLName.Local == "addressbook") || (kind != model.KindContacts && t.XMLName.Local == "calendar") {
				isKind = true
			}
		}
		if ps.Prop.Name != "" {
			col.name = ps.Prop.Name
		}
		for _, c := range ps.Prop.Comps {
			col.comps = append(col.comps, c.Name)
		}
	}
	if !isKind {
		return collection{}, false, model.Permanent(fmt.Errorf("%s: something that is not a %s collection is there", what, kind))
	}
	return col, true, nil
}

// pickDefault chooses the target's default collection of kind among cols; ours (named
// "bascule-…") never qualify.
func (w *writer) pickDefault(cols []collection, kind model.CollectionKind) (collection, bool) {
	comp := component(kind)
	var cands []collection
	for _, col := range cols {
		if strings.HasPrefix(path.Base(col.href), "bascule-") || (comp != "" && !col.supports(comp)) {
			continue
		}
		cands = append(cands, col)
	}
	if len(cands) == 0 {
		return collection{}, false
	}
	slices.SortFunc(cands, func(a, b collection) int { return strings.Compare(a.href, b.href) })
	named := func(col collection) bool {
		base := path.Base(col.href)
		return strings.EqualFold(base, "default") || strings.EqualFold(col.name, "default") || base == defaultNames[kind]
	}
	var tiers []func(collection) bool
	switch kind {
	case model.KindTasks:
		// A calendar for tasks only is a task list; a mixed one is only a fallback.
		tiers = append(tiers, func(col collection) bool { return len(col.comps) > 0 && !col.supports("VEVENT") })
		fallthrough
	case model.KindCalendar:
		tiers = append(tiers, func(col collection) bool { return w.scheduleDefault != "" && col.href == w.scheduleDefault })
	}
	tiers = append(tiers, named, func(collection) bool { return true })
	for _, tier := range tiers {
		if i := slices.IndexFunc(cands, tier); i >= 0 {
			return cands[i], true
		}
	}
	return collection{}, false
}

// create makes one collection with MKCALENDAR (RFC 4791 §5.3.1) or extended MKCOL
// (RFC 5689), setting its display name, colour and component set in the same request.
func (w *writer) create(ctx context.Context, href string, c model.Collection) error {
	displayName := c.Name
	if displayName == "" {
		displayName = defaultNames[c.Kind]
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	method := "MKCALENDAR"
	if c.Kind == model.KindContacts {
		method = "MKCOL"
		b.WriteString(`<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>`)
		b.WriteString(`<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>`)
		writeElem(&b, "D:displayname", displayName)
		b.WriteString(`</D:prop></D:set></D:mkcol>`)
	} else {
		b.WriteString(`<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>`)
		writeElem(&b, "D:displayname", displayName)
		if validColor(c.Color) {
			writeElem(&b, "I:calendar-color", c.Color)
		}
		fmt.Fprintf(&b, `<C:supported-calendar-component-set><C:comp name="%s"/></C:supported-calendar-component-set>`, component(c.Kind))
		b.WriteString(`</D:prop></D:set></C:mkcalendar>`)
	}
	what := fmt.Sprintf("dav: %s %s (%q)", method, href, displayName)
	ex, _, err := w.c.do(ctx, method, w.url(href), http.Header{"Content-Type": {`application/xml; charset="utf-8"`}}, b.Bytes())
	if err != nil {
		return classify(what, ex, err)
	}
	switch {
	case ex.status/100 == 2:
		return nil
	case ex.status == http.StatusMethodNotAllowed:
		// It exists already (created by another worker since we looked): reuse it if it
		// holds what we need.
		col, found, err := w.probe(ctx, href, c.Kind)
		if err != nil {
			return err
		}
		if found && col.supports(component(c.Kind)) {
			return nil
		}
	}
	return statusErr(what, ex)
}

func writeElem(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}

func validColor(s string) bool {
	if len(s) != 7 && len(s) != 9 || s[0] != '#' {
		return false
	}
	_, err := hex.DecodeString(s[1:])
	return err == nil
}

func contentType(k model.CollectionKind) string {
	if k == model.KindContacts {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8"
}

func (w *writer) resourceHref(col load.CollectionRef, name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return "", model.Permanent(fmt.Errorf("dav: bad resource name %q", name))
	}
	if col.Href == "" {
		return "", model.Permanent(errors.New("dav: no collection"))
	}
	return dirPath(col.Href) + name, nil
}

// Put writes r's bytes unchanged into col with If-None-Match: * (r.ETag "") or If-Match:
// r.ETag. A failed condition (412) wraps load.ErrPrecondition; a refused resource (any other
// 4xx) wraps model.ErrPermanent with the status and the server's reason (e.g. Cyrus's
// C:valid-calendar-data); 401 wraps model.ErrFatal; network trouble, 5xx and 429 wrap
// model.ErrRetryable (model.Throttled when the server says when to come back). A retryable
// error is ambiguous: the resource may have been written, and a retry with ETag "" may then
// fail its condition — Stat tells. The returned ETag is the server's, exactly as it gave it;
// when the PUT answer carries none (allowed when the server changed the data), it is read
// with a PROPFIND.
func (w *writer) Put(ctx context.Context, col load.CollectionRef, r load.Resource) (load.ResourceRef, error) {
	href, err := w.resourceHref(col, r.Name)
	if err != nil {
		return load.ResourceRef{}, err
	}
	hdr := http.Header{"Content-Type": {contentType(col.Kind)}}
	if r.ETag == "" {
		hdr.Set("If-None-Match", "*")
	} else {
		hdr.Set("If-Match", r.ETag)
	}
	ex, _, err := w.c.do(ctx, http.MethodPut, w.url(href), hdr, r.Data)
	what := "dav: PUT " + href
	if err != nil {
		return load.ResourceRef{}, classify(what, ex, err)
	}
	if ex.status/100 != 2 {
		return load.ResourceRef{}, statusErr(what, ex)
	}
	if loc := ex.header.Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil && u.Path != "" {
			href = u.Path
		}
	}
	ref := load.ResourceRef{Href: href, ETag: ex.header.Get("ETag")}
	if ref.ETag == "" {
		st, err := w.stat(ctx, href)
		if err != nil {
			// Written, but its version is unknown: the caller can Stat it later.
			w.s.cfg.Logger.Warn("dav: no ETag after PUT", "href", href, "err", err)
			return ref, nil
		}
		ref.ETag = st.ETag
	}
	return ref, nil
}

// Stat returns the resource's current ETag (PROPFIND Depth 0 getetag), or model.ErrNotFound
// (wrapped) when it does not exist; other errors are classified as for Put.
func (w *writer) Stat(ctx context.Context, col load.CollectionRef, name string) (load.ResourceRef, error) {
	href, err := w.resourceHref(col, name)
	if err != nil {
		return load.ResourceRef{}, err
	}
	return w.stat(ctx, href)
}

const etagPropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`

func (w *writer) stat(ctx context.Context, href string) (load.ResourceRef, error) {
	what := "dav: PROPFIND " + href
	ex, data, err := w.c.do(ctx, "PROPFIND", w.url(href), http.Header{"Depth": {"0"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(etagPropfind))
	if err != nil {
		return load.ResourceRef{}, classify(what, ex, err)
	}
	if ex.status != http.StatusMultiStatus {
		return load.ResourceRef{}, statusErr(what, ex)
	}
	var ms multistatus
	if err := xml.Unmarshal(data, &ms); err != nil {
		return load.ResourceRef{}, model.Retryable(fmt.Errorf("%s: unreadable answer: %w", what, err))
	}
	notFound := model.Permanent(fmt.Errorf("%w: %s", model.ErrNotFound, what))
	if len(ms.Responses) != 1 {
		return load.ResourceRef{}, model.Permanent(fmt.Errorf("%s: %d responses in a Depth 0 answer", what, len(ms.Responses)))
	}
	r := ms.Responses[0]
	if statusCode(r.Status) == http.StatusNotFound {
		// Cyrus answers a missing resource with a 207 holding a 404.
		return load.ResourceRef{}, notFound
	}
	for _, ps := range r.Propstats {
		if ps.ok() && ps.Prop.ETag != "" {
			return load.ResourceRef{Href: href, ETag: strings.TrimSpace(ps.Prop.ETag)}, nil
		}
	}
	if len(r.Propstats) == 0 {
		return load.ResourceRef{}, model.Retryable(fmt.Errorf("%s: no properties and no status (%s)", what, r.Status))
	}
	// The resource exists but has no ETag: the caller can only write it unconditionally.
	return load.ResourceRef{Href: href}, nil
}

// Delete removes one resource (DELETE, unconditional: the source deleted it). A vanished
// resource is not an error; others are classified as for Put.
func (w *writer) Delete(ctx context.Context, ref load.ResourceRef) error {
	if ref.Href == "" || strings.HasSuffix(ref.Href, "/") {
		return model.Permanent(fmt.Errorf("dav: refusing to delete %q: not a resource", ref.Href))
	}
	tctx, ex := track(ctx)
	err := w.webdavClient().RemoveAll(tctx, ref.Href)
	if err == nil || ex.status == http.StatusNotFound {
		return nil
	}
	return classify("dav: DELETE "+ref.Href, ex, err)
}

func (w *writer) webdavClient() *webdav.Client { return w.cal.Client }

// Close releases nothing: connections belong to the sink's pool.
func (w *writer) Close() error { return nil }
