package imap

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/extract/imap/imaptest"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/model"
)

func startCyrus(t *testing.T, users ...string) (*server, Config) {
	cy := testenv.Cyrus(t, users...)
	s := &server{addr: cy.IMAPAddr, dir: cy.Dir, delim: "/", users: users,
		loginAs:    func(u string) (string, string) { return u, cy.Users[u] },
		folderName: func(f string) string { return f },
		special: map[string]string{"Archive": model.WellKnownArchive, "Drafts": model.WellKnownDrafts, "Sent": model.WellKnownSentItems,
			"Trash": model.WellKnownDeletedItems, "Junk": model.WellKnownJunkEmail}}
	// Cyrus has no command that changes a folder's UIDVALIDITY: its admin deletes each
	// account and the same messages are appended again to the account Cyrus recreates at
	// the next login (new UIDVALIDITYs, new ids; Cyrus' UIDVALIDITY counts seconds).
	s.expire = func(t testing.TB) {
		time.Sleep(1100 * time.Millisecond)
		a, err := imaptest.Dial(cy.IMAPAddr, cy.AdminUser, cy.AdminPass)
		if err != nil {
			t.Fatalf("admin login: %v", err)
		}
		defer a.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.users {
			if err := a.SetACL("user/"+u, imap.RightsIdentifier(cy.AdminUser), imap.RightModificationReplace, imap.RightSetAll).Wait(); err != nil {
				t.Fatalf("SETACL user/%s: %v", u, err)
			}
			if err := a.Delete("user/" + u).Wait(); err != nil {
				t.Fatalf("DELETE user/%s: %v", u, err)
			}
			c := s.client(t, u)
			if err := imaptest.Create(c, s.extra[u]...); err != nil {
				t.Fatalf("recreating the folders of %s: %v", u, err)
			}
			old := make([]imaptest.Seeded, 0, len(s.msgs[u]))
			for _, m := range s.msgs[u] {
				old = append(old, m)
			}
			slices.SortFunc(old, func(x, y imaptest.Seeded) int {
				return cmp.Or(cmp.Compare(x.Folder, y.Folder), cmp.Compare(x.UID, y.UID))
			})
			s.msgs[u] = map[string]imaptest.Seeded{}
			for _, m := range old {
				n, err := imaptest.Append(c, imaptest.Message{Folder: m.Folder, Body: m.Body, Flags: m.Flags, Date: m.Date})
				if err != nil {
					t.Fatalf("appending again to %s: %v", u, err)
				}
				s.msgs[u][msgID(n.UIDValidity, n.UID, n.Folder)] = n
			}
			c.Logout().Wait()
		}
	}
	return s, Config{Auth: AuthPlainAuthzid, AdminUser: cy.AdminUser, AdminPassword: cy.AdminPass, Mailboxes: users}
}

// TestConformanceCyrus: the source conformance suite against a real Cyrus IMAP, its admin
// acting for each user by SASL PLAIN authorization identity.
func TestConformanceCyrus(t *testing.T) {
	d, cfg := startCyrus(t, "alice", "bob")
	d.seed(t, 20)
	sourcetest.Run(t, d.harness(d.source(t, cfg)))
}
