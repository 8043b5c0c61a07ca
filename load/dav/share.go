package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Sharing a collection (load.CollectionSharer). Two standard ways exist, and a server may
// offer either, both or neither (its OPTIONS DAV header says which):
//
//   - RFC 3744 access control ("access-control"): read the collection's DAV:acl, replace the
//     grantee's ACE, keep every other one, send the whole list back with the ACL method
//     (written here: go-webdav has no ACL support). Preferred: it is the standard.
//   - WebDAV resource sharing (draft-pot-webdav-resource-sharing, "resource-sharing"): POST a
//     DAV:share-resource naming the sharee; the server merges it into its own ACL.
//
// ACL is tried first; when the server refuses it (Cyrus 3.6 refuses any principal URL as
// DAV:recognized-principal unless that user has a WebDAV #drive home, see ARCHITECTURE), the
// share is made with share-resource. Either way the outcome is read back from DAV:acl, because
// Cyrus answers a share-resource that failed with 204 and only writes the reason to syslog.

var _ load.CollectionSharer = (*writer)(nil)

// Share gives grantee read (write false) or read-write access to col, replacing whatever access
// grantee had there and keeping every other entry of the collection's ACL. Read is DAV:read
// plus CALDAV:read-free-busy on calendars; write adds DAV:write-content, DAV:bind and
// DAV:unbind. A server with neither WebDAV ACL nor resource sharing (Radicale) wraps
// load.ErrUnsupported with the reason; a share the server refuses is permanent, with its
// reason; network trouble and 5xx are retryable; a missing collection wraps model.ErrNotFound.
// Sharing with the owner itself does nothing.
func (w *writer) Share(ctx context.Context, col load.CollectionRef, grantee string, write bool) error {
	if col.Href == "" || !strings.HasPrefix(col.Href, "/") {
		return model.Permanent(fmt.Errorf("dav: share: bad collection %q", col.Href))
	}
	if grantee == "" || strings.ContainsAny(grantee, "/\\<>\"\r\n") {
		return model.Permanent(fmt.Errorf("dav: share %s: bad grantee %q", col.Href, grantee))
	}
	if grantee == w.account {
		return nil
	}
	href := dirPath(col.Href)
	caps, header, err := w.davCaps(ctx, href)
	if err != nil {
		return err
	}
	var aclErr error
	if caps["access-control"] {
		aclErr = w.shareACL(ctx, href, col.Kind, grantee, write)
		if aclErr == nil {
			return nil
		}
		// Only a refusal is worth another way; trouble reaching the server is not.
		if !errors.Is(aclErr, model.ErrPermanent) || errors.Is(aclErr, model.ErrNotFound) || errors.Is(aclErr, model.ErrFatal) {
			return aclErr
		}
		w.s.cfg.Logger.Debug("dav: ACL refused, trying resource sharing", "href", href, "grantee", grantee, "err", aclErr)
	}
	if caps["resource-sharing"] {
		err := w.shareResource(ctx, href, col.Kind, grantee, write)
		if err != nil && aclErr != nil {
			return fmt.Errorf("%w (the ACL method was refused before: %v)", err, aclErr)
		}
		return err
	}
	if aclErr != nil {
		return fmt.Errorf("%w: %w", load.ErrUnsupported, aclErr)
	}
	return model.Permanent(fmt.Errorf("%w: dav: the server offers neither WebDAV ACL (RFC 3744) nor resource sharing on %s (DAV: %s): its access rights are set outside DAV (Radicale: a static rights file)",
		load.ErrUnsupported, href, clip(header, 200)))
}

// davCaps reads the compliance classes of href's DAV header (OPTIONS, RFC 4918 §10.1), lower
// case, and the header as the server gave it.
func (w *writer) davCaps(ctx context.Context, href string) (map[string]bool, string, error) {
	what := "dav: OPTIONS " + href
	ex, _, err := w.c.do(ctx, http.MethodOptions, w.url(href), nil, nil)
	if err != nil {
		return nil, "", classify(what, ex, err)
	}
	if ex.status/100 != 2 {
		return nil, "", statusErr(what, ex)
	}
	caps := map[string]bool{}
	lines := ex.header.Values("DAV")
	for _, line := range lines {
		for tok := range strings.SplitSeq(line, ",") {
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" {
				caps[tok] = true
			}
		}
	}
	return caps, strings.Join(lines, ", "), nil
}

// xmlNode is any XML element, kept whole so that an ACE the sink does not interpret can be
// sent back as the server gave it.
type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

// ace is one DAV:ace of a DAV:acl property (RFC 3744 §5.5).
type ace struct {
	Principal struct {
		Children []xmlNode `xml:",any"`
	} `xml:"DAV: principal"`
	Invert    *xmlNode  `xml:"DAV: invert"`
	Grant     *privList `xml:"DAV: grant"`
	Deny      *privList `xml:"DAV: deny"`
	Protected *xmlNode  `xml:"DAV: protected"`
	Inherited *xmlNode  `xml:"DAV: inherited"`
}

type privList struct {
	Privileges []struct {
		Children []xmlNode `xml:",any"`
	} `xml:"DAV: privilege"`
}

// names returns the privileges a grant or deny lists.
func (p *privList) names() []xml.Name {
	if p == nil {
		return nil
	}
	var out []xml.Name
	for _, priv := range p.Privileges {
		for _, c := range priv.Children {
			out = append(out, c.XMLName)
		}
	}
	return out
}

// principalHref returns the ACE's principal URL path (decoded), "" when the principal is not
// a DAV:href (DAV:all, DAV:self, DAV:property…).
func (a *ace) principalHref() string {
	if len(a.Principal.Children) != 1 {
		return ""
	}
	p := a.Principal.Children[0]
	if p.XMLName.Space != "DAV:" || p.XMLName.Local != "href" {
		return ""
	}
	return hrefPath(p.Text)
}

// hrefPath returns the decoded path of an href (absolute URL or path), "" when unusable.
func hrefPath(h string) string {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil {
		return ""
	}
	return u.Path
}

type aclMultistatus struct {
	Responses []struct {
		Status    string `xml:"DAV: status"`
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				ACL *struct {
					ACEs []ace `xml:"DAV: ace"`
				} `xml:"DAV: acl"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// parseACL reads the DAV:acl property out of a Depth 0 PROPFIND answer. ok is false when the
// answer holds no readable acl (the property was refused or missing).
func parseACL(data []byte) (aces []ace, ok bool, err error) {
	var ms aclMultistatus
	if err := xml.Unmarshal(data, &ms); err != nil {
		return nil, false, err
	}
	for _, r := range ms.Responses {
		for _, ps := range r.Propstats {
			if statusCode(ps.Status) == http.StatusOK && ps.Prop.ACL != nil {
				return ps.Prop.ACL.ACEs, true, nil
			}
		}
	}
	return nil, false, nil
}

const aclPropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:acl/></D:prop></D:propfind>`

// readACL returns href's DAV:acl.
func (w *writer) readACL(ctx context.Context, href string) ([]ace, error) {
	what := "dav: PROPFIND acl " + href
	ex, data, err := w.c.do(ctx, "PROPFIND", w.url(href), http.Header{"Depth": {"0"}, "Content-Type": {`application/xml; charset="utf-8"`}}, []byte(aclPropfind))
	if err != nil {
		return nil, classify(what, ex, err)
	}
	if ex.status != http.StatusMultiStatus {
		return nil, statusErr(what, ex)
	}
	aces, ok, err := parseACL(data)
	if err != nil {
		return nil, model.Retryable(fmt.Errorf("%s: unreadable answer: %w", what, err))
	}
	if !ok {
		return nil, model.Permanent(fmt.Errorf("%s: the server gives no DAV:acl (%s may not read this collection's access list)", what, w.c.user))
	}
	return aces, nil
}

// wantPrivs are the privileges a share grants (RFC 3744 §3, RFC 4791 §6.1.1).
func wantPrivs(kind model.CollectionKind, write bool) []xml.Name {
	out := []xml.Name{{Space: "DAV:", Local: "read"}}
	if kind != model.KindContacts {
		out = append(out, xml.Name{Space: "urn:ietf:params:xml:ns:caldav", Local: "read-free-busy"})
	}
	if write {
		out = append(out, xml.Name{Space: "DAV:", Local: "write-content"}, xml.Name{Space: "DAV:", Local: "bind"}, xml.Name{Space: "DAV:", Local: "unbind"})
	}
	return out
}

// covers says whether holding granted gives priv: by name, or through the aggregates RFC 3744
// §3.12 and RFC 4791 §6.1.1 define (DAV:all, DAV:write, DAV:read ⊃ CALDAV:read-free-busy).
func covers(granted []xml.Name, priv xml.Name) bool {
	for _, g := range granted {
		switch {
		case g == priv, g == xml.Name{Space: "DAV:", Local: "all"}:
			return true
		case g == xml.Name{Space: "DAV:", Local: "write"} && priv.Space == "DAV:" &&
			slices.Contains([]string{"write-content", "bind", "unbind", "write-properties"}, priv.Local):
			return true
		case g == xml.Name{Space: "DAV:", Local: "read"} && priv == xml.Name{Space: "urn:ietf:params:xml:ns:caldav", Local: "read-free-busy"}:
			return true
		}
	}
	return false
}

// principalFor returns the principal URL path of another login, derived from this account's
// own principal by replacing its login (or from the principal template); "" when neither can
// name it.
func (w *writer) principalFor(login string) string {
	if t := w.s.cfg.PrincipalTemplate; t != "" {
		if u, err := url.Parse(strings.ReplaceAll(t, "{user}", url.PathEscape(login))); err == nil && u.Path != "" {
			return dirPath(u.Path)
		}
	}
	segs := strings.Split(w.principal, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == w.account {
			segs[i] = login
			return dirPath(strings.Join(segs, "/"))
		}
	}
	return ""
}

// isPrincipalOf says whether a principal URL path names login: it is the derived principal,
// or its last segment is the login (servers spell principals differently).
func (w *writer) isPrincipalOf(p, login string) bool {
	if p == "" {
		return false
	}
	if want := w.principalFor(login); want != "" && dirPath(p) == want {
		return true
	}
	return path.Base(strings.TrimSuffix(p, "/")) == login
}

// granted returns the privileges href's ACL grants login (its grant ACEs; deny ACEs are
// returned apart), and whether any ACE names login at all.
func (w *writer) granted(aces []ace, login string) (grant, deny []xml.Name) {
	for i := range aces {
		if !w.isPrincipalOf(aces[i].principalHref(), login) {
			continue
		}
		grant = append(grant, aces[i].Grant.names()...)
		deny = append(deny, aces[i].Deny.names()...)
	}
	return grant, deny
}

// checkShare reads href's ACL back and says whether it gives login exactly the access a share
// asks for: every wanted privilege granted and none denied, and for a read-only share no
// write-content, bind or unbind (a downgrade must take them away).
func (w *writer) checkShare(ctx context.Context, href string, kind model.CollectionKind, login string, write bool) error {
	aces, err := w.readACL(ctx, href)
	if err != nil {
		return err
	}
	grant, deny := w.granted(aces, login)
	var missing, extra []string
	for _, p := range wantPrivs(kind, write) {
		if !covers(grant, p) || slices.Contains(deny, p) {
			missing = append(missing, privName(p))
		}
	}
	if !write {
		for _, p := range wantPrivs(kind, true)[len(wantPrivs(kind, false)):] {
			if covers(grant, p) {
				extra = append(extra, privName(p))
			}
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	var got []string
	for _, g := range grant {
		got = append(got, privName(g))
	}
	msg := fmt.Sprintf("dav: after sharing %s with %q, its ACL grants %q [%s]", href, login, login, strings.Join(got, " "))
	if len(missing) > 0 {
		msg += "; missing: " + strings.Join(missing, " ")
	}
	if len(extra) > 0 {
		msg += "; more than read-only: " + strings.Join(extra, " ")
	}
	return model.Permanent(errors.New(msg))
}

func privName(n xml.Name) string {
	if p, ok := nsPrefix[n.Space]; ok {
		return p + n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// errNoRoundTrip is wrapped when an ACL holds an entry the sink cannot send back unchanged.
var errNoRoundTrip = errors.New("cannot be sent back unchanged")

// renderACL writes the body of an ACL request: kept, then the new ACE for principal granting
// privs. Protected and inherited ACEs are left out (RFC 3744 §8.1: the client must not send
// them; the server keeps them).
func renderACL(kept []ace, principal string, privs []xml.Name) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:acl xmlns:D="DAV:">`)
	for _, a := range kept {
		if a.Protected != nil || a.Inherited != nil {
			continue
		}
		if a.Invert != nil || len(a.Principal.Children) != 1 || (a.Grant == nil) == (a.Deny == nil) {
			return nil, fmt.Errorf("an ACE with an inverted, missing or ambiguous principal, or not exactly one grant or deny, %w", errNoRoundTrip)
		}
		b.WriteString("<D:ace><D:principal>")
		writeNode(&b, a.Principal.Children[0])
		b.WriteString("</D:principal>")
		tag, list := "D:grant", a.Grant
		if a.Deny != nil {
			tag, list = "D:deny", a.Deny
		}
		if len(list.names()) == 0 {
			// Nothing granted or denied: leaving it out changes nothing.
			b.WriteString("</D:ace>")
			continue
		}
		b.WriteString("<" + tag + ">")
		for _, n := range list.names() {
			b.WriteString("<D:privilege>")
			writeNode(&b, xmlNode{XMLName: n})
			b.WriteString("</D:privilege>")
		}
		b.WriteString("</" + tag + "></D:ace>")
	}
	b.WriteString(`<D:ace><D:principal><D:href>`)
	xml.EscapeText(&b, []byte((&url.URL{Path: principal}).EscapedPath()))
	b.WriteString(`</D:href></D:principal><D:grant>`)
	for _, n := range privs {
		b.WriteString("<D:privilege>")
		writeNode(&b, xmlNode{XMLName: n})
		b.WriteString("</D:privilege>")
	}
	b.WriteString(`</D:grant></D:ace></D:acl>`)
	return b.Bytes(), nil
}

// writeNode writes an element in its own default namespace (so no prefix has to be known),
// with its text and children.
func writeNode(b *bytes.Buffer, n xmlNode) {
	b.WriteString("<" + n.XMLName.Local + ` xmlns="`)
	xml.EscapeText(b, []byte(n.XMLName.Space))
	b.WriteString(`">`)
	if len(n.Children) == 0 {
		xml.EscapeText(b, []byte(strings.TrimSpace(n.Text)))
	}
	for _, c := range n.Children {
		writeNode(b, c)
	}
	b.WriteString("</" + n.XMLName.Local + ">")
}

// shareACL shares with the ACL method (RFC 3744 §8.1): the current list minus login's own
// entries, plus one granting what the share asks for.
func (w *writer) shareACL(ctx context.Context, href string, kind model.CollectionKind, login string, write bool) error {
	principal := w.principalFor(login)
	if principal == "" {
		return model.Permanent(fmt.Errorf("dav: ACL on %s: cannot name the principal of %q from %s (set a principal template)", href, login, w.principal))
	}
	aces, err := w.readACL(ctx, href)
	if err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(aces), func(a ace) bool {
		return a.Protected == nil && a.Inherited == nil && w.isPrincipalOf(a.principalHref(), login)
	})
	body, err := renderACL(kept, principal, wantPrivs(kind, write))
	if err != nil {
		return model.Permanent(fmt.Errorf("dav: ACL on %s: %w", href, err))
	}
	what := "dav: ACL " + href
	ex, _, err := w.c.do(ctx, "ACL", w.url(href), http.Header{"Content-Type": {`application/xml; charset="utf-8"`}}, body)
	if err != nil {
		return classify(what, ex, err)
	}
	if ex.status/100 == 2 {
		return w.checkShare(ctx, href, kind, login, write)
	}
	failed := statusErr(what, ex)
	if ex.status >= 500 {
		// Cyrus sets the ACL, then fails on its scheduling Outbox when scheduling is off
		// (caldav_update_shareacls): what counts is whether the grant is there.
		if w.checkShare(ctx, href, kind, login, write) == nil {
			w.s.cfg.Logger.Warn("dav: the server failed after applying the ACL", "href", href, "err", failed)
			return nil
		}
	}
	return failed
}

// shareResource shares with a DAV:share-resource POST (draft-pot-webdav-resource-sharing
// §4.3), naming the sharee by a mailto: URI of its login (Cyrus resolves principal URLs here
// the same way as in ACL, so only mailto: works there), then checks the ACL.
func (w *writer) shareResource(ctx context.Context, href string, kind model.CollectionKind, login string, write bool) error {
	access := "read"
	if write {
		access = "read-write"
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:share-resource xmlns:D="DAV:"><D:sharee><D:href>`)
	xml.EscapeText(&b, []byte("mailto:"+login))
	b.WriteString(`</D:href><D:share-access><D:` + access + `/></D:share-access></D:sharee></D:share-resource>`)
	what := fmt.Sprintf("dav: POST share-resource %s (%s %s)", href, login, access)
	ex, _, err := w.c.do(ctx, http.MethodPost, w.url(href), http.Header{"Content-Type": {`application/davsharing+xml; charset="utf-8"`}}, b.Bytes())
	if err != nil {
		return classify(what, ex, err)
	}
	if ex.status/100 != 2 {
		return statusErr(what, ex)
	}
	return w.checkShare(ctx, href, kind, login, write)
}
