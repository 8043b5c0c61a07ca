package ews

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/transform/sieve"
)

// TestSettingsSameAsTenant reads every mailbox's settings over sim/ews and compares them
// with the tenant they come from: the out-of-office as it is, the inbox rules through
// transform/sieve (the same script as the tenant's Graph messageRules give), and the
// folder permissions the Exchange exports list (with the delegate flags).
func TestSettingsSameAsTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("starts both emulators")
	}
	tf := startTwoFaces(t)
	ctx := context.Background()
	var rules, grants int
	for _, u := range tf.ten.Users() {
		if u.Mail == "" {
			continue
		}
		em := model.Mailbox{ID: u.Mail, Address: u.Mail}
		got, err := gwSettings(ctx, tf.ews, em)
		if err != nil {
			t.Fatalf("%s: %v", u.Mail, err)
		}

		want, err := tf.ten.AutoReply(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want.Status != "scheduled" {
			want.Start, want.End = got.AutoReply.Start, got.AutoReply.End
		}
		if got.AutoReply == nil || !got.AutoReply.Start.Equal(want.Start) || !got.AutoReply.End.Equal(want.End) ||
			got.AutoReply.Status != want.Status || got.AutoReply.ExternalAudience != want.ExternalAudience ||
			got.AutoReply.InternalReply != want.InternalReply || got.AutoReply.ExternalReply != want.ExternalReply {
			t.Errorf("%s: auto reply\n got %+v\nwant %+v", u.Mail, got.AutoReply, want)
		}

		folders := map[string]string{}
		root := tf.ten.RootFolderID(u.ID)
		paths := map[string]string{}
		for _, f := range tf.ten.Folders(u.ID) {
			p := f.DisplayName
			if f.ParentID != root && paths[f.ParentID] != "" {
				p = paths[f.ParentID] + "/" + f.DisplayName
			}
			paths[f.ID] = p
			folders[f.ID] = p
		}
		opt := sieve.Options{Folders: folders, Addresses: []string{u.Mail}}
		ws, err := sieve.Script(tf.ten.Rules(u.ID), nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := sieve.Script(got.Rules, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		if string(ws.Script) != string(gs.Script) || fmt.Sprint(ws.Skipped) != fmt.Sprint(gs.Skipped) || len(ws.Unmapped) != len(gs.Unmapped) {
			t.Errorf("%s: Sieve from EWS rules differs from the tenant's:\n--- tenant (unmapped %v)\n%s\n--- ews (unmapped %v)\n%s", u.Mail, ws.Unmapped, ws.Script, gs.Unmapped, gs.Script)
		}
		rules += len(got.Rules)

		var wg, gg []string
		for _, p := range tf.ten.ExchangePermissions(u.ID) {
			// SendOnBehalf, FullAccess and SendAs come from the CSV exports only.
			if p.Kind != tenant.PermFolder || p.Deny {
				continue
			}
			who := p.Grantee.Address
			switch p.Grantee.Kind {
			case tenant.PrincipalDefault:
				who = model.GranteeDefault
			case tenant.PrincipalAnonymous:
				who = model.GranteeAnonymous
			case tenant.PrincipalSID:
				who = p.Grantee.SID
			}
			if p.Role == "None" {
				continue
			}
			rights := slices.Clone(p.Rights)
			slices.Sort(rights)
			flags := slices.Clone(p.SharingFlags)
			slices.Sort(flags)
			role := p.Role
			if role == "" && len(rights) > 0 {
				role = "Custom" // as extract/exchangecsv names a custom set of rights
			}
			wg = append(wg, fmt.Sprintf("%s %s %s %v %v", strings.ToLower(who), strings.Join(p.FolderPath, "/"), role, rights, flags))
		}
		for _, g := range got.Grants {
			rights := slices.Clone(g.Rights)
			slices.Sort(rights)
			flags := slices.Clone(g.Flags)
			slices.Sort(flags)
			gg = append(gg, fmt.Sprintf("%s %s %s %v %v", strings.ToLower(g.Grantee), g.FolderPath, g.Role, rights, flags))
		}
		slices.Sort(wg)
		slices.Sort(gg)
		if !slices.Equal(wg, gg) {
			t.Errorf("%s: grants differ:\n--- tenant\n%s\n--- ews\n%s", u.Mail, strings.Join(wg, "\n"), strings.Join(gg, "\n"))
		}
		grants += len(gg)
	}
	if rules == 0 || grants == 0 {
		t.Errorf("compared %d rules, %d grants", rules, grants)
	}
	t.Logf("compared %d rules, %d grants", rules, grants)
}
