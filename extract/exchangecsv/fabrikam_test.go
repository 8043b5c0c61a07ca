package exchangecsv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
)

// TestFabrikam reads the hand-made export in testdata/fabrikam (see its README) and
// compares it with expected.tsv, grant for grant. The one difference is documented: the
// "FullAccess, ReadPermission" row also gives a ReadPermission grant, kept with its note.
func TestFabrikam(t *testing.T) {
	dir := filepath.Join("testdata", "fabrikam")
	e, err := Load(dir)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var want []model.Grant
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n")[1:] {
		f := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if len(f) != 8 {
			t.Fatalf("expected.tsv line %d: %d fields", i+2, len(f))
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ";")
		}
		want = append(want, model.Grant{Owner: f[0], Grantee: f[1], Scope: model.GrantScope(f[2]), FolderPath: f[3], Role: f[4],
			Rights: split(f[5]), Flags: split(f[6]), Deny: f[7] == "true"})
	}
	want = append(want, model.Grant{Owner: "helene.girard@fabrikam.example", Grantee: "marc.dupont@fabrikam.example",
		Scope: model.ScopeMailbox, Role: "ReadPermission"})

	got := e.AllGrants()
	for i := range got {
		if !strings.Contains(got[i].Origin, ".csv line ") {
			t.Errorf("grant %d has Origin %q", i, got[i].Origin)
		}
		got[i].Origin = ""
	}
	sortGrants(got)
	sortGrants(want)
	if !sameGrants(got, want) {
		t.Errorf("grants:\n%s", diff(got, want))
	}

	wantProblems := []string{
		`mailbox-permissions.csv line 5: delegate "Comptabilité – Équipe" of compta@fabrikam.example is not a mailbox`,
		`mailbox-permissions.csv line 7: delegate "S-1-5-21-1004336348-1177238915-682003330-2605" of helene.girard@fabrikam.example is an orphaned SID`,
		`recipient-permissions.csv line 3: delegate "Comptabilité – Équipe" of compta@fabrikam.example is not a mailbox`,
		`recipient-permissions.csv line 5: delegate "S-1-5-21-1004336348-1177238915-682003330-2605" of salle.rivoli@fabrikam.example is an orphaned SID`,
		`folder-permissions.csv line 11: delegate "Comptabilité – Équipe" of helene.girard@fabrikam.example is not a mailbox`,
		`folder-permissions.csv line 18: delegate "NT:S-1-5-21-1004336348-1177238915-682003330-2605" of marc.dupont@fabrikam.example is an orphaned SID`,
	}
	p := e.Problems()
	if len(p) != len(wantProblems) {
		t.Fatalf("Problems() =\n%s", strings.Join(p, "\n"))
	}
	for i := range p {
		if !strings.HasPrefix(p[i], wantProblems[i]) {
			t.Errorf("Problems()[%d] = %q, want %q…", i, p[i], wantProblems[i])
		}
	}
	if m := e.Mailboxes(); len(m) != 5 || m[4].RecipientTypeDetails != "RoomMailbox" ||
		!slices.ContainsFunc(m, func(m Mailbox) bool {
			return m.Identity == "Compta, Fournisseurs" && m.Address == "compta@fabrikam.example"
		}) {
		t.Errorf("Mailboxes() = %+v", m)
	}
}
