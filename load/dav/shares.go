package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Shares reads the collection at href's access list back (one OPTIONS, one Depth 0
// PROPFIND of DAV:acl; read-only, for bascule verify) and returns the logins it is shared
// with: login → "read" or "read-write", as Share writes them. The account itself, the admin,
// protected and inherited entries (the server's own) and principals that are not a URL
// (DAV:all, DAV:authenticated…) are left out, as are entries granting less than DAV:read.
// A server that offers neither WebDAV ACL nor resource sharing (Radicale: its rights are a
// file) wraps load.ErrUnsupported: its sharing cannot be read back.
func (r *Reader) Shares(ctx context.Context, href string) (map[string]string, error) {
	w := r.w
	href = dirPath(href)
	caps, header, err := w.davCaps(ctx, href)
	if err != nil {
		return nil, err
	}
	if !caps["access-control"] && !caps["resource-sharing"] {
		// The words of Share's refusal, so that both name the same thing the same way.
		return nil, model.Permanent(fmt.Errorf("%w: dav: the server offers neither WebDAV ACL (RFC 3744) nor resource sharing on %s (DAV: %s): its access rights are set outside DAV (Radicale: a static rights file)",
			load.ErrUnsupported, href, clip(header, 200)))
	}
	aces, err := w.readACL(ctx, href)
	if err != nil {
		return nil, err
	}
	type acc struct{ grant, deny []xml.Name }
	by := map[string]*acc{}
	for i := range aces {
		a := &aces[i]
		if a.Protected != nil || a.Inherited != nil || a.Invert != nil {
			continue
		}
		p := a.principalHref()
		if p == "" {
			continue
		}
		login := path.Base(strings.TrimSuffix(p, "/"))
		if login == "" || login == "." || login == "/" || w.isPrincipalOf(p, w.account) ||
			(w.s.cfg.AdminUser != "" && w.isPrincipalOf(p, w.s.cfg.AdminUser)) {
			continue
		}
		x := by[login]
		if x == nil {
			x = &acc{}
			by[login] = x
		}
		x.grant = append(x.grant, a.Grant.names()...)
		x.deny = append(x.deny, a.Deny.names()...)
	}
	out := map[string]string{}
	has := func(x *acc, p xml.Name) bool { return covers(x.grant, p) && !slices.Contains(x.deny, p) }
	for login, x := range by {
		if !has(x, xml.Name{Space: "DAV:", Local: "read"}) {
			continue
		}
		level := "read"
		if has(x, xml.Name{Space: "DAV:", Local: "write-content"}) {
			level = "read-write"
		}
		out[login] = level
	}
	return out, nil
}
