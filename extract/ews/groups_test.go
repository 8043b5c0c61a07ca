package ews

import (
	"context"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestGroupGrantees: a folder permission given to a group names it by its address like a
// user's; Settings marks exactly the grants whose grantee the directory resolves as a
// group (the tenant's groups), once per address.
func TestGroupGrantees(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	src := e.source(t, e.config())
	ctx := context.Background()
	want := map[string]bool{} // group addresses the tenant's permissions name
	for _, u := range e.ten.Users() {
		for _, p := range e.ten.ExchangePermissions(u.ID) {
			if p.Grantee.Kind == tenant.PrincipalGroup {
				want[strings.ToLower(p.Grantee.Address)] = true
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("the tenant names no group: nothing to test")
	}
	groups, users := 0, 0
	for _, u := range e.ten.Users() {
		mbx := model.Mailbox{ID: addressOf(u), Address: addressOf(u)}
		st, err := src.Settings(ctx, mbx)
		if err != nil {
			t.Fatalf("%s: %v", mbx.Address, err)
		}
		for _, g := range st.Grants {
			isGroup := want[strings.ToLower(g.Grantee)]
			if g.Group != isGroup {
				t.Errorf("%s: grant %s to %s: Group = %v, want %v", mbx.Address, g.Role, g.Grantee, g.Group, isGroup)
			}
			if g.Group {
				groups++
			} else if strings.Contains(g.Grantee, "@") {
				users++
			}
		}
	}
	if groups == 0 || users == 0 {
		t.Errorf("%d grants to groups and %d to addresses of users: want some of each", groups, users)
	}
	src.groups.mu.Lock()
	cached := len(src.groups.m)
	src.groups.mu.Unlock()
	if cached == 0 {
		t.Error("nothing resolved")
	}
}
