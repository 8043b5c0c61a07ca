package exchangecsv

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	simcsv "github.com/bascule-migrate/bascule/sim/exchangecsv"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestSimExports: what sim/exchangecsv writes from a generated tenant, in every form
// PowerShell writes it, reads back as exactly the grants the tenant says the exports
// state (tenant.ExchangeGrants), and the only problems are the groups and orphaned SIDs
// it put there, one each.
func TestSimExports(t *testing.T) {
	cfg := tenant.Small()
	cfg.Users = 4
	ten := tenant.Generate(cfg)
	for name, o := range map[string]simcsv.Options{
		"PowerShell 7":              {},
		"PowerShell 7 on Linux":     {LF: true},
		"Windows PowerShell":        {WindowsPowerShell: true},
		"Windows PowerShell, #TYPE": {WindowsPowerShell: true, TypeInformation: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := simcsv.WriteOptions(dir, ten, o); err != nil {
				t.Fatalf("WriteOptions() = %v", err)
			}
			e, err := Load(dir)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			total, unresolvable := 0, 0
			for _, u := range ten.Users() {
				want := ten.ExchangeGrants(u.ID)
				total += len(want)
				got := e.Grants(u.Mail)
				// The tenant names the file; the reader adds the cmdlet and the line. The
				// order is the files' (mailboxes.csv's SendOnBehalf last), not the tenant's.
				files := map[model.GrantScope]string{model.ScopeMailbox: FileMailboxPermissions, model.ScopeSendAs: FileRecipientPermissions,
					model.ScopeSendOnBehalf: FileMailboxes, model.ScopeFolder: FileFolderPermissions, model.ScopeCalendar: FileFolderPermissions,
					model.ScopeContacts: FileFolderPermissions}
				for i := range got {
					if !strings.Contains(got[i].Origin, files[got[i].Scope]+" line ") {
						t.Errorf("%s grant %d: Origin %q does not name %s and a line", u.Mail, i, got[i].Origin, files[got[i].Scope])
					}
					got[i].Origin = ""
				}
				for i := range want {
					want[i].Origin = ""
				}
				sortGrants(got)
				sortGrants(want)
				if !sameGrants(got, want) {
					t.Errorf("Grants(%s):\n%s", u.Mail, diff(got, want))
				}
				for _, p := range ten.ExchangePermissions(u.ID) {
					if p.Grantee.Kind == tenant.PrincipalGroup || p.Grantee.Kind == tenant.PrincipalSID {
						unresolvable++
					}
				}
			}
			if total == 0 || unresolvable == 0 {
				t.Fatalf("the tenant states %d grants, %d of them to groups or SIDs: nothing tested", total, unresolvable)
			}
			if n := len(e.AllGrants()); n != total {
				t.Errorf("AllGrants() = %d grants, want %d", n, total)
			}
			probs := e.Problems()
			if len(probs) != unresolvable {
				t.Errorf("Problems() = %d, want %d (one per group or orphaned SID grantee):\n%s", len(probs), unresolvable, strings.Join(probs, "\n"))
			}
			for _, p := range probs {
				if !strings.Contains(p, "orphaned SID") && !strings.Contains(p, "a group?") {
					t.Errorf("unexpected problem %q", p)
				}
			}
		})
	}
}

// sameGrants compares in order, nil and empty slices alike.
func sameGrants(a, b []model.Grant) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(g model.Grant) model.Grant {
		if len(g.Rights) == 0 {
			g.Rights = nil
		}
		if len(g.Flags) == 0 {
			g.Flags = nil
		}
		return g
	}
	for i := range a {
		if !reflect.DeepEqual(norm(a[i]), norm(b[i])) {
			return false
		}
	}
	return true
}

func sortGrants(gs []model.Grant) {
	slices.SortStableFunc(gs, func(a, b model.Grant) int { return strings.Compare(grantString(a), grantString(b)) })
}
