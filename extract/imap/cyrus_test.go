package imap

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/model"
)

func startCyrus(t *testing.T, users ...string) (*server, Config) {
	cy := testenv.Cyrus(t, users...)
	s := &server{addr: cy.IMAPAddr, delim: "/", users: users,
		loginAs:    func(u string) (string, string) { return u, cy.Users[u] },
		folderName: func(f string) string { return f },
		special: map[string]string{"Archive": model.WellKnownArchive, "Drafts": model.WellKnownDrafts, "Sent": model.WellKnownSentItems,
			"Trash": model.WellKnownDeletedItems, "Junk": model.WellKnownJunkEmail}}
	return s, Config{Auth: AuthPlainAuthzid, AdminUser: cy.AdminUser, AdminPassword: cy.AdminPass, Mailboxes: users}
}

// TestCyrusSource reads a real Cyrus IMAP (the Cyrus admin acting for each user by SASL PLAIN
// authorization identity): the conformance suite's checks but the expired cursor (Cyrus has
// no tool that changes a folder's UIDVALIDITY): folders with roles, a full pass that yields
// every message once with its flags, bodies byte for byte, a pass with no change, and a
// delta after a flag change, an expunge and an append.
func TestCyrusSource(t *testing.T) {
	d, cfg := startCyrus(t, "alice", "bob")
	d.seed(t, 20)
	src := d.source(t, cfg)
	ctx := context.Background()
	h := d.harness(src)
	truth := d.truth(t)

	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil || len(boxes) != 2 {
		t.Fatalf("Mailboxes = %v, %v", boxes, err)
	}
	// (No check of an absent account: testenv's Cyrus creates an account at its first login,
	// even one made by the admin acting for it; see docs/IMAP-SOURCE.md.)
	cursors := map[string]map[string]string{}
	for i, mbx := range boxes {
		mt := truth.Mailboxes[slices.IndexFunc(truth.Mailboxes, func(m sourcetestMailbox) bool { return m.Mailbox.ID == mbx.ID })]
		_ = i
		folders, err := src.Folders(ctx, mbx)
		if err != nil {
			t.Fatalf("Folders(%s) = %v", mbx.Address, err)
		}
		got := map[string]model.Folder{}
		for _, f := range folders {
			got[f.ID] = f
		}
		for _, w := range mt.Folders {
			g, ok := got[w.ID]
			if !ok || !slices.Equal(g.Path, w.Path) || g.ParentID != w.ParentID || g.WellKnown != w.WellKnown {
				t.Errorf("%s: folder %q = %+v, want %+v", mbx.Address, w.ID, g, w)
			}
		}
		msgs, cur := fullPass(t, src, mbx)
		cursors[mbx.ID] = cur
		if len(msgs) != len(mt.Messages) {
			t.Errorf("%s: %d messages listed, want %d", mbx.Address, len(msgs), len(mt.Messages))
		}
		for _, w := range mt.Messages {
			m, ok := msgs[w.ID]
			if !ok {
				t.Errorf("%s: message %s not listed", mbx.Address, w.ID)
				continue
			}
			if m.Flags != w.Flags || m.Size != w.Size || m.FolderID != w.FolderID {
				t.Errorf("%s: message %s = %+v, want flags %+v size %d folder %s", mbx.Address, w.ID, m, w.Flags, w.Size, w.FolderID)
			}
			sum, n, err := openHash(ctx, src, mbx, w.ID)
			if err != nil || sum != w.SHA256 || n != w.Size {
				t.Errorf("Open(%s) = %d bytes %s, %v; want %d bytes %s", w.ID, n, sum, err, w.Size, w.SHA256)
			}
		}
		// No change: only checkpoints.
		for _, f := range folders {
			for c, err := range src.Changes(ctx, mbx, f, cur[f.ID]) {
				if err != nil || c.Kind != extract.Checkpoint {
					t.Errorf("%s %s: unchanged pass gave %+v, %v", mbx.Address, f.ID, c, err)
				}
			}
		}
	}

	// Delta: a flag change and an expunge in INBOX, an append to Sent.
	mbx := boxes[0]
	var inbox []string
	for id, m := range d.msgs[mbx.Address] {
		if m.Folder == "INBOX" {
			inbox = append(inbox, id)
		}
	}
	slices.Sort(inbox)
	toggled, deleted := inbox[0], inbox[1]
	wasSeen := hasFlag(d.msgs[mbx.Address][toggled].Flags, "\\Seen")
	h.SetRead(t, mbx, toggled, !wasSeen)
	h.Delete(t, mbx, deleted)
	added := h.Add(t, mbx, "Sent")
	var ups, dels []string
	folders, _ := src.Folders(ctx, mbx)
	for _, f := range folders {
		for c, err := range src.Changes(ctx, mbx, f, cursors[mbx.ID][f.ID]) {
			if err != nil {
				t.Fatalf("Changes(%s) = %v", f.ID, err)
			}
			switch c.Kind {
			case extract.Upsert:
				ups = append(ups, c.Message.ID)
				if c.Message.ID == toggled && c.Message.Flags.Seen == wasSeen {
					t.Errorf("%s: Seen still %v", toggled, wasSeen)
				}
			case extract.Delete:
				dels = append(dels, c.Message.ID)
			}
		}
	}
	slices.Sort(ups)
	want := []string{toggled, added}
	slices.Sort(want)
	if !slices.Equal(ups, want) || !slices.Equal(dels, []string{deleted}) {
		t.Errorf("delta: upserts %v, deletes %v; want %v and [%s]", ups, dels, want, deleted)
	}
	if !strings.HasSuffix(added, ":Sent") {
		t.Errorf("added id %q", added)
	}
}
