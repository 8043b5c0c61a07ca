package exchangecsv

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// readCSV parses one written file with encoding/csv, checking the PowerShell framing.
func readCSV(t *testing.T, path string, o Options) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bom := bytes.HasPrefix(b, []byte("\ufeff"))
	if bom != o.WindowsPowerShell {
		t.Fatalf("%s: BOM %v, want %v", path, bom, o.WindowsPowerShell)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if typ := bytes.HasPrefix(b, []byte("#TYPE ")); typ != (o.WindowsPowerShell && o.TypeInformation) {
		t.Fatalf("%s: #TYPE line %v", path, typ)
	}
	if o.WindowsPowerShell && o.TypeInformation {
		b = b[bytes.IndexByte(b, '\n')+1:]
	}
	crlf := bytes.Count(b, []byte("\r\n"))
	if lf := bytes.Count(b, []byte("\n")); (o.LF && crlf != 0) || (!o.LF && crlf != lf) {
		t.Fatalf("%s: %d CRLF of %d line ends, LF option %v", path, crlf, lf, o.LF)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func grantKey(g model.Grant) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%v|%v|%v", g.Owner, g.Grantee, g.Scope, g.FolderPath, g.Role, g.Rights, g.Flags, g.Deny)
}

// TestWriteRoundTrip reads the files back the way a reader must (names resolved through
// mailboxes.csv, display names through the tenant's users) and finds exactly
// tenant.ExchangeGrants.
func TestWriteRoundTrip(t *testing.T) {
	bigger := tenant.Small()
	bigger.Users, bigger.Seed = 7, 3
	for ti, ten := range []*tenant.Tenant{tenant.Generate(tenant.Small()), tenant.Generate(bigger)} {
		for _, o := range []Options{{}, {WindowsPowerShell: true, TypeInformation: true}, {WindowsPowerShell: true}, {LF: true}} {
			if ti == 1 && o != (Options{}) {
				continue
			}
			t.Run(fmt.Sprintf("%d users %+v", len(ten.Users()), o), func(t *testing.T) {
				dir := t.TempDir()
				if err := WriteOptions(dir, ten, o); err != nil {
					t.Fatalf("WriteOptions() = %v", err)
				}
				byName := map[string]string{} // Identity → primary SMTP
				var got []string
				for _, r := range readCSV(t, filepath.Join(dir, FileMailboxes), o) {
					byName[r["Identity"]] = r["PrimarySmtpAddress"]
				}
				if len(byName) != len(ten.Users()) {
					t.Fatalf("mailboxes.csv: %d distinct identities, want %d", len(byName), len(ten.Users()))
				}
				byDisplay := map[string]string{}
				for _, u := range ten.Users() {
					byDisplay[u.DisplayName] = u.Mail
				}
				grantee := func(v string) string {
					if a, ok := byName[v]; ok {
						return a
					}
					if a, ok := byDisplay[v]; ok {
						return a
					}
					return v // UPN, group name, SID, external address
				}
				for _, r := range readCSV(t, filepath.Join(dir, FileMailboxes), o) {
					for _, n := range strings.Split(r["GrantSendOnBehalfTo"], ";") {
						if n == "" {
							continue
						}
						if _, ok := byName[n]; !ok {
							t.Errorf("GrantSendOnBehalfTo %q of %s is not an Identity of mailboxes.csv", n, r["Identity"])
						}
						got = append(got, grantKey(model.Grant{Owner: r["PrimarySmtpAddress"], Grantee: byName[n], Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf"}))
					}
				}
				for _, r := range readCSV(t, filepath.Join(dir, FileMailboxPermissions), o) {
					owner, ok := byName[r["Identity"]]
					if !ok || r["IsInherited"] != "False" || r["AccessRights"] != "FullAccess" || strings.HasPrefix(r["User"], "NT AUTHORITY") {
						t.Errorf("mailbox-permissions.csv row %v", r)
					}
					got = append(got, grantKey(model.Grant{Owner: owner, Grantee: grantee(r["User"]), Scope: model.ScopeMailbox, Role: "FullAccess", Deny: r["Deny"] == "True"}))
				}
				for _, r := range readCSV(t, filepath.Join(dir, FileRecipientPermissions), o) {
					owner, ok := byName[r["Identity"]]
					if !ok || r["AccessRights"] != "SendAs" || r["AccessControlType"] != "Allow" {
						t.Errorf("recipient-permissions.csv row %v", r)
					}
					got = append(got, grantKey(model.Grant{Owner: owner, Grantee: grantee(r["Trustee"]), Scope: model.ScopeSendAs, Role: "SendAs"}))
				}
				for _, r := range readCSV(t, filepath.Join(dir, FileFolderPermissions), o) {
					owner, path, ok := strings.Cut(r["Identity"], `:\`)
					if !ok {
						t.Fatalf("folder Identity %q", r["Identity"])
					}
					segs := strings.Split(path, `\`)
					for i := range segs {
						segs[i] = strings.ReplaceAll(segs[i], "\uf8ff", "/")
					}
					if segs[len(segs)-1] != r["FolderName"] {
						t.Errorf("Identity %q but FolderName %q", r["Identity"], r["FolderName"])
					}
					g := model.Grant{Owner: owner, Grantee: grantee(r["User"]), Scope: model.ScopeFolder, FolderPath: strings.Join(segs, "/"), Role: r["AccessRights"]}
					if strings.Contains(g.Role, ",") {
						g.Rights, g.Role = strings.Split(g.Role, ", "), tenant.RoleCustom
					}
					if f := r["SharingPermissionFlags"]; f != "" {
						g.Flags = strings.Split(f, ", ")
					}
					switch {
					case segs[0] == "Calendar" || segs[0] == "Calendrier":
						g.Scope = model.ScopeCalendar
					case segs[0] == "Contacts":
						g.Scope = model.ScopeContacts
					}
					got = append(got, grantKey(g))
				}
				var want []string
				for _, u := range ten.Users() {
					for _, g := range ten.ExchangeGrants(u.ID) {
						want = append(want, grantKey(g))
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("grants read back differ:\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestWriteHostile checks the parts a naive reader gets wrong are there: a quoted comma,
// non-ASCII names, an orphaned SID, a group, a deny, a "/" in a folder name, a custom
// rights list, delegate flags.
func TestWriteHostile(t *testing.T) {
	ten := tenant.Generate(tenant.Small())
	dir := t.TempDir()
	if err := Write(dir, ten); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	all := ""
	for _, f := range []string{FileMailboxes, FileMailboxPermissions, FileRecipientPermissions, FileFolderPermissions} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	for _, want := range []string{`"Commercial, Ventes & Export"`, `"S-1-5-21-`, `"Équipe Accueil"`, `"FullAccess","True"`,
		"A\uf8ffB tests", `"ReadItems, CreateItems, EditOwnedItems, FolderVisible"`, `"Delegate, CanViewPrivateItems"`,
		`"Boîte de réception"`, `"Calendrier"`, `"SharedMailbox"`, `"accueil"`, `"AvailabilityOnly"`, `"LimitedDetails"`} {
		if !strings.Contains(all, want) {
			t.Errorf("no %s in the exports", want)
		}
	}
}
