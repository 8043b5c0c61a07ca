package exchangecsv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
)

// fuzzFile feeds arbitrary bytes as one file, beside the sample's mailboxes.csv (or as
// it), and checks that Load's work never panics and keeps its promises.
func fuzzFile(f *testing.F, name string) {
	for _, s := range sample() {
		f.Add([]byte(s))
		f.Add(utf16le(crlf(s), true))
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "fabrikam", name)); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0xFF, 0xFE, 0x41})
	f.Add([]byte("\"Identity\",\"User\",\"AccessRights\"\n\"a:\\\",\"\",\"{\"\n"))
	f.Add([]byte("#TYPE x\r\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := map[string][]byte{name: data}
		if name != FileMailboxes {
			files[FileMailboxes] = []byte(tMailboxes)
		}
		e := parse(files)
		scopes := map[model.GrantScope]bool{model.ScopeMailbox: true, model.ScopeFolder: true, model.ScopeCalendar: true,
			model.ScopeContacts: true, model.ScopeSendAs: true, model.ScopeSendOnBehalf: true}
		for _, g := range e.AllGrants() {
			if g.Owner == "" || g.Grantee == "" || !scopes[g.Scope] || g.Role == "" {
				t.Fatalf("incomplete grant %+v", g)
			}
			if !strings.Contains(g.Origin, ".csv line ") {
				t.Fatalf("grant without its line: %+v", g)
			}
			if len(e.Grants(g.Owner)) == 0 {
				t.Fatalf("Grants(%q) misses %+v", g.Owner, g)
			}
		}
		for _, p := range e.Problems() {
			if !strings.HasPrefix(p, name) && !strings.HasPrefix(p, FileMailboxes) {
				t.Fatalf("problem without its file: %q", p)
			}
		}
		for _, m := range e.Mailboxes() {
			if !isAddress(m.Address) {
				t.Fatalf("mailbox without an address: %+v", m)
			}
		}
	})
}

func FuzzLoadMailboxes(f *testing.F)            { fuzzFile(f, FileMailboxes) }
func FuzzLoadMailboxPermissions(f *testing.F)   { fuzzFile(f, FileMailboxPermissions) }
func FuzzLoadRecipientPermissions(f *testing.F) { fuzzFile(f, FileRecipientPermissions) }
func FuzzLoadFolderPermissions(f *testing.F)    { fuzzFile(f, FileFolderPermissions) }
