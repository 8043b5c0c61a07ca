package transform

import (
	"fmt"
	"strings"
)

// Rewriter changes the domain of e-mail addresses when an organisation's domain changes on
// the way (`--rewrite-domain old=new`): organizers, attendees, contacts' addresses. Domains
// compare case-insensitively; the local part is kept as it is. The zero value rewrites
// nothing.
type Rewriter struct {
	domains map[string]string // lower-case old domain → new domain
}

// ParseRewrites builds a Rewriter from "old=new" pairs.
func ParseRewrites(pairs []string) (Rewriter, error) {
	r := Rewriter{domains: map[string]string{}}
	for _, p := range pairs {
		old, nu, ok := strings.Cut(p, "=")
		old, nu = strings.TrimSpace(old), strings.TrimSpace(nu)
		if !ok || old == "" || nu == "" || strings.ContainsAny(old+nu, "@ ") {
			return Rewriter{}, fmt.Errorf("bad --rewrite-domain %q: want old.example=new.example", p)
		}
		r.domains[strings.ToLower(old)] = nu
	}
	return r, nil
}

// Address rewrites one address ("user@old" → "user@new"); anything else comes back unchanged.
// A "mailto:" prefix (any case) is kept.
func (r Rewriter) Address(addr string) string {
	if len(r.domains) == 0 {
		return addr
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if nu, ok := r.domains[strings.ToLower(addr[at+1:])]; ok {
		return addr[:at+1] + nu
	}
	return addr
}
