package exchangecsv

import (
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"

	"github.com/bascule-migrate/bascule/model"
)

// The hand-written export: every line is there for a reason, said next to it in the
// expectations below.
const (
	tMailboxes = `#TYPE Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox
"Identity","Alias","DisplayName","PrimarySmtpAddress","UserPrincipalName","RecipientTypeDetails","GrantSendOnBehalfTo","EmailAddresses"
"alice","alice","Alice Martin","alice@contoso.com","alice@contoso.onmicrosoft.com","UserMailbox","","SMTP:alice@contoso.com;smtp:a.martin@contoso.fr"
"Benoît Durand","bdurand","Benoît Durand","benoit.durand@contoso.com","bdurand@contoso.com","UserMailbox","alice;Chloé Petit",""
"accueil","accueil","Accueil, Paris ""siège""","accueil@contoso.com","accueil@contoso.com","SharedMailbox","Benoît Durand;Sales Team",""
"chloe","chloe","Chloé Petit","chloe.petit@contoso.com","chloe@contoso.com","UserMailbox","",""
"jmartin1","jmartin1","Jean Martin","jean.martin@contoso.com","jmartin1@contoso.com","UserMailbox","",""
"jmartin2","jmartin2","Jean Martin","jean.martin2@contoso.com","jmartin2@contoso.com","UserMailbox","",""
"salle-a","salle-a","Salle A","salle-a@contoso.com","salle-a@contoso.com","RoomMailbox","System.Collections.ArrayList",""
"nobody","nobody","Nobody","not an address","nobody@contoso.com","UserMailbox","",""
`
	tMailboxPermissions = `#TYPE Selected.Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject
"Identity","User","AccessRights","IsInherited","Deny","InheritanceType"
"accueil","NT AUTHORITY\SELF","FullAccess, ReadPermission","False","False","All"
"accueil","alice@contoso.onmicrosoft.com","FullAccess","False","False","All"
"accueil","bdurand@contoso.com","{FullAccess, ReadPermission}","False","False","All"
"accueil","S-1-5-21-3623811015-3361044348-30300820-1013","FullAccess","False","False","All"
"accueil","NAMPR01A001\Organization Management","FullAccess","True","True","All"
"accueil","NAMPR01A001\Exchange Servers","FullAccess","True","False","All"
"alice","chloe@contoso.com","FullAccess","False","True","All"
"alice","Jean Martin","FullAccess","False","False","All"
"ghost","alice","FullAccess","False","False","All"
"chloe","alice","FullAccess","False","Maybe","All"
"chloe","alice","System.Object[]","False","False","All"
"chloe","a.martin@contoso.fr","FullAccess","True","False","All"
"chloe","alice","FullAccess","False","False","All"
`
	tRecipientPermissions = `"Identity","Trustee","AccessControlType","AccessRights","IsInherited","InheritanceType"
"accueil","alice@contoso.onmicrosoft.com","Allow","SendAs","False","None"
"accueil","NT AUTHORITY\SELF","Allow","SendAs","False","None"
"Sales Team","alice","Allow","SendAs","False","None"
"chloe","Sales Team","Allow","SendAs","False","None"
"alice","bdurand","Deny","SendAs","False","None"
"alice","bdurand","Allow","ReadPermission","False","None"
`
	tFolderPermissions = `#TYPE Selected.Microsoft.Exchange.Management.StoreTasks.MailboxFolderPermission
"Identity","FolderName","User","AccessRights","SharingPermissionFlags"
"alice:\Calendar","Calendar","Default","{AvailabilityOnly}",""
"alice:\Calendar","Calendar","Anonymous","{None}",""
"alice:\Calendar","Calendar","Benoît Durand","{Editor}","Delegate, CanViewPrivateItems"
"alice:\Inbox\Projets, 2024","Projets, 2024","Chloé Petit","ReadItems, CreateItems, FolderVisible",""
"chloe.petit@contoso.com:\Calendrier","Calendrier","Alice Martin","Reviewer",""
"chloe.petit@contoso.com:\Contacts","Contacts","Alice Martin","Author",""
"chloe.petit@contoso.com:\Boîte de réception","Boîte de réception","NT:S-1-5-21-1-2-3-1104","Reviewer",""
"chloe:\Calendrier\Équipe` + privateSlash + `Pôle","Équipe/Pôle","alice","{PublishingEditor}","None"
"alice:\Inbox","Inbox","Bob ""The Builder""","Reviewer",""
"alice:\Inbox","Inbox","Chloé Petit","ReadItems EditAllItems Teleport",""
"alice:\Calendar","Calendar","Chloé Petit","FreeBusyTimeAndSubjectAndLocation",""
"alice:Inbox","Inbox","Chloé Petit","Reviewer",""
"alice:\Inbox","Inbox","Chloé Petit","Reviewer"
"alice:\","Top of Information Store","Chloé Petit","FolderVisible",""
"alice:\Notes
multi-line","Notes","Default","Reviewer",""
`
)

// privateSlash is how FolderPath writes a "/" inside a folder name.
const privateSlash = "\uf8ff"

// wantGrants is what the export above must give, owner by owner, in file order.
var wantGrants = map[string][]model.Grant{
	"accueil@contoso.com": {
		// NT AUTHORITY\SELF and the system groups: skipped. The UPN resolves to the
		// primary address.
		{Grantee: "alice@contoso.com", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 4"},
		// Braces and two rights: one grant each, the second with its note.
		{Grantee: "benoit.durand@contoso.com", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 5"},
		{Grantee: "benoit.durand@contoso.com", Scope: model.ScopeMailbox, Role: "ReadPermission", Origin: "Get-MailboxPermission mailbox-permissions.csv line 5 (ReadPermission: a right on the mailbox object, not on its content)"},
		// An orphaned SID: kept as written (and a problem).
		{Grantee: "S-1-5-21-3623811015-3361044348-30300820-1013", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 6"},
		{Grantee: "alice@contoso.com", Scope: model.ScopeSendAs, Role: "SendAs", Origin: "Get-RecipientPermission recipient-permissions.csv line 2"},
		// GrantSendOnBehalfTo: by display name; a group kept as written.
		{Grantee: "benoit.durand@contoso.com", Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf", Origin: "Get-Mailbox mailboxes.csv line 5"},
		{Grantee: "Sales Team", Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf", Origin: "Get-Mailbox mailboxes.csv line 5"},
	},
	"alice@contoso.com": {
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeMailbox, Role: "FullAccess", Deny: true, Origin: "Get-MailboxPermission mailbox-permissions.csv line 9"},
		// Two "Jean Martin": ambiguous, kept as written.
		{Grantee: "Jean Martin", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 10"},
		{Grantee: "benoit.durand@contoso.com", Scope: model.ScopeSendAs, Role: "SendAs", Deny: true, Origin: "Get-RecipientPermission recipient-permissions.csv line 6"},
		{Grantee: model.GranteeDefault, Scope: model.ScopeCalendar, FolderPath: "Calendar", Role: "AvailabilityOnly", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 3"},
		{Grantee: model.GranteeAnonymous, Scope: model.ScopeCalendar, FolderPath: "Calendar", Role: "None", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 4"},
		{Grantee: "benoit.durand@contoso.com", Scope: model.ScopeCalendar, FolderPath: "Calendar", Role: "Editor", Flags: []string{"Delegate", "CanViewPrivateItems"}, Origin: "Get-MailboxFolderPermission folder-permissions.csv line 5"},
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeFolder, FolderPath: "Inbox/Projets, 2024", Role: "Custom", Rights: []string{"ReadItems", "CreateItems", "FolderVisible"}, Origin: "Get-MailboxFolderPermission folder-permissions.csv line 6"},
		{Grantee: "Bob \"The Builder\"", Scope: model.ScopeFolder, FolderPath: "Inbox", Role: "Reviewer", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 11"},
		// An unknown right is kept (and reported).
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeFolder, FolderPath: "Inbox", Role: "Custom", Rights: []string{"ReadItems", "EditAllItems", "Teleport"}, Origin: "Get-MailboxFolderPermission folder-permissions.csv line 12"},
		// Exchange 2010's name for LimitedDetails.
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeCalendar, FolderPath: "Calendar", Role: "LimitedDetails", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 13"},
		// The root folder.
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeFolder, FolderPath: "", Role: "Custom", Rights: []string{"FolderVisible"}, Origin: "Get-MailboxFolderPermission folder-permissions.csv line 16"},
		// A quoted field spanning two lines: the line is where the record starts.
		{Grantee: model.GranteeDefault, Scope: model.ScopeFolder, FolderPath: "Notes\nmulti-line", Role: "Reviewer", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 17"},
	},
	"chloe.petit@contoso.com": {
		// An inherited FullAccess of a real mailbox is a grant; a secondary address resolves.
		{Grantee: "alice@contoso.com", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 14"},
		{Grantee: "Sales Team", Scope: model.ScopeSendAs, Role: "SendAs", Origin: "Get-RecipientPermission recipient-permissions.csv line 5"},
		{Grantee: "alice@contoso.com", Scope: model.ScopeCalendar, FolderPath: "Calendrier", Role: "Reviewer", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 7"},
		{Grantee: "alice@contoso.com", Scope: model.ScopeContacts, FolderPath: "Contacts", Role: "Author", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 8"},
		{Grantee: "S-1-5-21-1-2-3-1104", Scope: model.ScopeFolder, FolderPath: "Boîte de réception", Role: "Reviewer", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 9"},
		{Grantee: "alice@contoso.com", Scope: model.ScopeCalendar, FolderPath: "Calendrier/Équipe/Pôle", Role: "PublishingEditor", Origin: "Get-MailboxFolderPermission folder-permissions.csv line 10"},
	},
	"benoit.durand@contoso.com": {
		{Grantee: "alice@contoso.com", Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf", Origin: "Get-Mailbox mailboxes.csv line 4"},
		{Grantee: "chloe.petit@contoso.com", Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf", Origin: "Get-Mailbox mailboxes.csv line 4"},
	},
}

// wantProblems: a fragment of each problem, in order.
var wantProblems = []string{
	`mailboxes.csv line 10: PrimarySmtpAddress "not an address"`,
	`mailbox-permissions.csv line 6: delegate "S-1-5-21-3623811015-3361044348-30300820-1013" of accueil@contoso.com is an orphaned SID`,
	`mailbox-permissions.csv line 10: delegate "Jean Martin" of alice@contoso.com names several mailboxes`,
	`mailbox-permissions.csv line 11: Identity "ghost" is not a mailbox`,
	`mailbox-permissions.csv line 12: Deny "Maybe"`,
	`mailbox-permissions.csv line 13: AccessRights reads "System.Object[]"`,
	`recipient-permissions.csv line 4: Identity "Sales Team" is not a mailbox`,
	`recipient-permissions.csv line 5: delegate "Sales Team" of chloe.petit@contoso.com is not a mailbox`,
	`recipient-permissions.csv line 7: recipient right "ReadPermission"`,
	`folder-permissions.csv line 9: delegate "NT:S-1-5-21-1-2-3-1104" of chloe.petit@contoso.com is an orphaned SID`,
	`folder-permissions.csv line 11: delegate "Bob \"The Builder\"" of alice@contoso.com is not a mailbox`,
	`folder-permissions.csv line 12: folder right "Teleport"`,
	`folder-permissions.csv line 14: Identity "alice:Inbox" is not of the form`,
	`folder-permissions.csv line 15: 4 fields where the header has`,
	`mailboxes.csv line 5: delegate "Sales Team" of accueil@contoso.com is not a mailbox`,
	`mailboxes.csv line 9: GrantSendOnBehalfTo of salle-a@contoso.com reads "System.Collections.ArrayList"`,
}

func sample() map[string]string {
	return map[string]string{
		FileMailboxes: tMailboxes, FileMailboxPermissions: tMailboxPermissions,
		FileRecipientPermissions: tRecipientPermissions, FileFolderPermissions: tFolderPermissions,
	}
}

func writeDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func check(t *testing.T, e *Export) {
	t.Helper()
	total := 0
	for owner, want := range wantGrants {
		for i := range want {
			want[i].Owner = owner
		}
		total += len(want)
		// Owners are matched case-insensitively.
		got := e.Grants(strings.ToUpper(owner))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Grants(%s):\n%s", owner, diff(got, want))
		}
	}
	if n := len(e.AllGrants()); n != total {
		t.Errorf("AllGrants() has %d grants, want %d:\n%s", n, total, dump(e.AllGrants()))
	}
	probs := e.Problems()
	if len(probs) != len(wantProblems) {
		t.Errorf("Problems() = %d, want %d:\n%s", len(probs), len(wantProblems), strings.Join(probs, "\n"))
	}
	for i := range min(len(probs), len(wantProblems)) {
		if !strings.Contains(probs[i], wantProblems[i]) {
			t.Errorf("Problems()[%d] = %q, want it to contain %q", i, probs[i], wantProblems[i])
		}
	}
}

func dump(gs []model.Grant) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(grantString(g))
		b.WriteByte('\n')
	}
	return b.String()
}

func grantString(g model.Grant) string {
	return strings.Join([]string{g.Owner, g.Grantee, string(g.Scope), g.FolderPath, g.FolderID, g.Role,
		strings.Join(g.Rights, ","), strings.Join(g.Flags, ","), map[bool]string{true: "deny", false: ""}[g.Deny], g.Origin}, " | ")
}

func diff(got, want []model.Grant) string {
	return "got:\n" + dump(got) + "want:\n" + dump(want)
}

func TestLoadSample(t *testing.T) {
	files := map[string][]byte{}
	for k, v := range sample() {
		files[k] = []byte(v)
	}
	e, err := Load(writeDir(t, files))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	check(t, e)

	mbs := e.Mailboxes()
	if len(mbs) != 7 {
		t.Fatalf("Mailboxes() = %d, want 7: %+v", len(mbs), mbs)
	}
	if mbs[2].Address != "accueil@contoso.com" || mbs[2].RecipientTypeDetails != "SharedMailbox" || mbs[2].DisplayName != `Accueil, Paris "siège"` {
		t.Errorf("Mailboxes()[2] = %+v", mbs[2])
	}
	for _, c := range []struct{ name, want string }{
		{"Benoît Durand", "benoit.durand@contoso.com"}, {"BDURAND", "benoit.durand@contoso.com"},
		{`CONTOSO\bdurand`, "benoit.durand@contoso.com"}, {"contoso.com/Users/Chloé Petit", "chloe.petit@contoso.com"},
		{"smtp:a.martin@contoso.fr", "alice@contoso.com"}, {"Jean Martin", ""}, {"nobody", ""},
	} {
		got, ok := e.Resolve(c.name)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
	owners := e.Owners()
	slices.Sort(owners)
	if want := []string{"accueil@contoso.com", "alice@contoso.com", "benoit.durand@contoso.com", "chloe.petit@contoso.com"}; !slices.Equal(owners, want) {
		t.Errorf("Owners() = %v, want %v", owners, want)
	}
}

// The same export, written every way PowerShell writes files, gives the same result.
func TestLoadEncodings(t *testing.T) {
	encs := map[string]func(string) []byte{
		"utf-8 BOM CRLF": func(s string) []byte { return append([]byte{0xEF, 0xBB, 0xBF}, crlf(s)...) },
		"utf-16le BOM CRLF": func(s string) []byte {
			return utf16le(crlf(s), true)
		},
		"utf-16le no BOM": func(s string) []byte { return utf16le(s, false) },
		"utf-16be BOM": func(s string) []byte {
			le := utf16le(s, true)
			for i := 0; i+1 < len(le); i += 2 {
				le[i], le[i+1] = le[i+1], le[i]
			}
			return le
		},
		"windows-1252": func(s string) []byte {
			// Windows-1252 has no private-use character: a "/" in the name reads the same.
			b, err := charmap.Windows1252.NewEncoder().String(strings.ReplaceAll(s, privateSlash, "/"))
			if err != nil {
				panic(err)
			}
			return []byte(b)
		},
		"no #TYPE line": func(s string) []byte {
			if strings.HasPrefix(s, "#TYPE") {
				// Keep the line numbers: a blank line instead.
				return []byte("\n" + s[strings.IndexByte(s, '\n')+1:])
			}
			return []byte(s)
		},
	}
	for name, enc := range encs {
		t.Run(name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range sample() {
				files[k] = enc(v)
			}
			e, err := Load(writeDir(t, files))
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			check(t, e)
		})
	}
}

func crlf(s string) string {
	// Line breaks inside quoted fields stay LF, as Export-Csv writes them.
	var b strings.Builder
	inQuote := false
	for _, r := range s {
		if r == '"' {
			inQuote = !inQuote
		}
		if r == '\n' && !inQuote {
			b.WriteString("\r\n")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = []byte{0xFF, 0xFE}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// Columns in another order, extra columns and other header case change nothing.
func TestLoadColumnOrder(t *testing.T) {
	files := map[string][]byte{}
	for k, v := range sample() {
		files[k] = []byte(shuffleColumns(t, v))
	}
	e, err := Load(writeDir(t, files))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	check(t, e)
}

// shuffleColumns reverses the columns, upper-cases the header and adds a column; the
// line with a wrong field count keeps it.
func shuffleColumns(t *testing.T, s string) string {
	t.Helper()
	var typeLine string
	if strings.HasPrefix(s, "#") {
		i := strings.IndexByte(s, '\n')
		typeLine, s = s[:i+1], s[i+1:]
	}
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(typeLine)
	w := csv.NewWriter(&b)
	for i, rec := range recs {
		out := slices.Clone(rec)
		slices.Reverse(out)
		if i == 0 {
			for j := range out {
				out[j] = strings.ToUpper(out[j])
			}
			out = append(out, "RunspaceId")
		} else if len(rec) == len(recs[0]) {
			out = append(out, "5c1c6f3e-0000-4000-8000-000000000000")
		}
		_ = w.Write(out)
	}
	w.Flush()
	return b.String()
}

func TestLoadMissingFiles(t *testing.T) {
	e, err := Load(t.TempDir())
	if err != nil {
		t.Fatalf("Load(empty dir) = %v", err)
	}
	if len(e.AllGrants()) != 0 || len(e.Problems()) != 0 {
		t.Errorf("empty dir: %d grants, problems %v", len(e.AllGrants()), e.Problems())
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing dir) = %v, want fs.ErrNotExist", err)
	}

	// Without mailboxes.csv, addresses still work and names are problems.
	e, err = Load(writeDir(t, map[string][]byte{"Mailbox-Permissions.CSV": []byte(
		"\"Identity\",\"User\",\"AccessRights\"\n\"alice@contoso.com\",\"bob@contoso.com\",\"FullAccess\"\n\"alice@contoso.com\",\"Bob\",\"FullAccess\"\n")}))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Grant{
		{Owner: "alice@contoso.com", Grantee: "bob@contoso.com", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 2"},
		{Owner: "alice@contoso.com", Grantee: "Bob", Scope: model.ScopeMailbox, Role: "FullAccess", Origin: "Get-MailboxPermission mailbox-permissions.csv line 3"},
	}
	if got := e.Grants("alice@contoso.com"); !reflect.DeepEqual(got, want) {
		t.Errorf("without mailboxes.csv:\n%s", diff(got, want))
	}
	if p := e.Problems(); len(p) != 1 || !strings.Contains(p[0], `line 3: delegate "Bob"`) {
		t.Errorf("Problems() = %q", p)
	}
}

func TestLoadBadHeaders(t *testing.T) {
	e, err := Load(writeDir(t, map[string][]byte{
		FileFolderPermissions:    []byte("\"Identity\",\"User\"\n\"alice:\\Inbox\",\"bob\"\n"),
		FileRecipientPermissions: []byte(""),
		FileMailboxes:            []byte("#TYPE only\n"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mailboxes.csv: empty file", "recipient-permissions.csv: empty file", "folder-permissions.csv: no accessrights column"}
	p := e.Problems()
	if len(p) != len(want) {
		t.Fatalf("Problems() = %q, want %q", p, want)
	}
	for i := range want {
		if !strings.HasPrefix(p[i], want[i]) {
			t.Errorf("Problems()[%d] = %q, want prefix %q", i, p[i], want[i])
		}
	}
}

// A "?" in a name that does not resolve is the mark of Windows PowerShell's ASCII
// default: the problem says so.
func TestASCIIHint(t *testing.T) {
	e := parse(map[string][]byte{
		FileMailboxes:         []byte(tMailboxes),
		FileFolderPermissions: []byte("\"Identity\",\"User\",\"AccessRights\"\n\"alice:\\Calendar\",\"Beno?t Durand\",\"Reviewer\"\n"),
	})
	p := e.Problems()
	if !slices.ContainsFunc(p, func(s string) bool {
		return strings.Contains(s, `"Beno?t Durand"`) && strings.Contains(s, "-Encoding UTF8")
	}) {
		t.Errorf("Problems() = %q, want a hint about -Encoding UTF8", p)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"{Reviewer}":                    {"Reviewer"},
		"ReadItems, CreateItems":        {"ReadItems", "CreateItems"},
		"{ReadItems, CreateItems}":      {"ReadItems", "CreateItems"},
		"ReadItems,CreateItems":         {"ReadItems", "CreateItems"},
		"ReadItems;CreateItems":         {"ReadItems", "CreateItems"},
		"ReadItems CreateItems":         {"ReadItems", "CreateItems"},
		" {} ":                          nil,
		"Delegate, CanViewPrivateItems": {"Delegate", "CanViewPrivateItems"},
	} {
		if got := splitList(in); !slices.Equal(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}
