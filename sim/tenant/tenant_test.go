package tenant

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

func readAll(t *testing.T, ten *Tenant, user, id string) []byte {
	t.Helper()
	rc, n, err := ten.MIME(user, id)
	if err != nil {
		t.Fatalf("MIME(%s) = %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading MIME(%s): %v", id, err)
	}
	if int64(len(b)) != n {
		t.Fatalf("MIME(%s) announced %d bytes, streamed %d", id, n, len(b))
	}
	return b
}

func TestDeterministic(t *testing.T) {
	a, b := Generate(Small()), Generate(Small())
	if a.TenantID() != b.TenantID() {
		t.Fatalf("tenant ids differ: %s %s", a.TenantID(), b.TenantID())
	}
	ua, ub := a.Users(), b.Users()
	if len(ua) != 3 || len(ub) != 3 {
		t.Fatalf("Small() has %d users, want 3", len(ua))
	}
	for i := range ua {
		if ua[i] != ub[i] {
			t.Fatalf("user %d differs: %+v vs %+v", i, ua[i], ub[i])
		}
		ma, mb := a.Messages(ua[i].ID), b.Messages(ub[i].ID)
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d vs %d messages", ua[i].UPN, len(ma), len(mb))
		}
		for j := range ma {
			if ma[j].ID != mb[j].ID || ma[j].SHA256 != mb[j].SHA256 || ma[j].Size != mb[j].Size {
				t.Fatalf("%s message %d differs", ua[i].UPN, j)
			}
		}
	}
	other := Generate(Config{Seed: 99, Users: 2, Messages: 150})
	if other.Messages(other.Users()[0].ID)[0].SHA256 == a.Messages(ua[0].ID)[0].SHA256 {
		t.Errorf("another seed produced the same first message")
	}
}

func TestMIMEMatchesMetadata(t *testing.T) {
	ten := Generate(Small())
	n, total := ten.Stats()
	if n != 150 {
		t.Fatalf("Stats() = %d messages, want 150", n)
	}
	var sum int64
	var seen = map[string]bool{}
	msgIDs := map[string]int{}
	for _, u := range ten.Users() {
		for _, m := range ten.Messages(u.ID) {
			b := readAll(t, ten, u.ID, m.ID)
			h := sha256.Sum256(b)
			if hex.EncodeToString(h[:]) != m.SHA256 {
				t.Fatalf("%s: MIME bytes hash to %x, metadata says %s", m.ID, h, m.SHA256)
			}
			sum += int64(len(b))
			if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) {
				t.Errorf("%s: bare LF in message", m.ID)
			}
			if bytes.IndexByte(b, 0) >= 0 {
				t.Errorf("%s: NUL byte in message", m.ID)
			}
			if !bytes.HasSuffix(b, []byte("\r\n")) {
				t.Errorf("%s: message does not end with CRLF", m.ID)
			}
			if !strings.HasPrefix(m.ID, "AAMkA") {
				t.Errorf("id %q lacks the AAMkA prefix", m.ID)
			}
			head := string(b[:bytes.Index(b, []byte("\r\n\r\n"))])
			switch {
			case !strings.Contains(head, "MIME-Version:"):
				seen["no-mime-version"] = true
			case strings.Contains(head, "charset=\"iso-2022-jp\""):
				seen["iso-2022-jp"] = true
			case strings.Contains(head, "charset=\"koi8-r\""):
				seen["koi8-r"] = true
			case strings.Contains(head, "charset=\"windows-1252\""):
				seen["windows-1252"] = true
			case strings.Contains(head, "multipart/mixed"):
				seen["mixed"] = true
			}
			if strings.Count(head, "\nTo:") > 1 {
				seen["duplicate"] = true
			}
			if !strings.Contains(head, "Message-ID:") {
				seen["no-message-id"] = true
			}
			if m.InternetMessageID != "" {
				msgIDs[m.InternetMessageID]++
			}
			if mb, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
				if d, err := mb.Header.Date(); err != nil || d.After(m.Received) {
					t.Errorf("%s: Date %v (%v) not before received %v", m.ID, d, err, m.Received)
				}
			}
		}
	}
	if sum != total {
		t.Errorf("Stats() bytes = %d, sum of MIME = %d", total, sum)
	}
	for _, k := range []string{"no-mime-version", "iso-2022-jp", "koi8-r", "windows-1252", "mixed", "duplicate", "no-message-id"} {
		if !seen[k] {
			t.Errorf("no message with trait %q in Small()", k)
		}
	}
	dup := false
	for _, c := range msgIDs {
		dup = dup || c > 1
	}
	if !dup {
		t.Errorf("no two messages share a Message-ID")
	}
}

func TestFolders(t *testing.T) {
	ten := Generate(Small())
	var fr, en bool
	for _, u := range ten.Users() {
		fs := ten.Folders(u.ID)
		root := ten.RootFolderID(u.ID)
		pos := map[string]int{root: -1}
		names := map[string]bool{}
		for i, f := range fs {
			if _, ok := pos[f.ParentID]; !ok {
				t.Fatalf("%s: folder %q listed before its parent", u.UPN, f.DisplayName)
			}
			pos[f.ID] = i
			names[f.DisplayName] = true
		}
		if names["Boîte de réception"] {
			fr = true
		}
		if names["Inbox"] {
			en = true
		}
		if u.Purpose == "user" {
			for _, n := range []string{"Réunions", "Clients & Partenaires", "日本語", "A/B tests", "Ünïcödé"} {
				if !names[n] {
					t.Errorf("%s: no folder %q", u.UPN, n)
				}
			}
		}
		inbox, err := ten.Folder(u.ID, "Inbox")
		if err != nil || inbox.WellKnown != "inbox" || inbox.ParentID != root {
			t.Errorf("%s: Folder(inbox) = %+v, %v", u.UPN, inbox, err)
		}
	}
	if !fr || !en {
		t.Errorf("want French and English mailboxes (fr %v, en %v)", fr, en)
	}
	if ten.Users()[2].UPN != "accueil@contoso.example" || ten.Users()[2].Purpose != "shared" {
		t.Errorf("shared mailbox = %+v", ten.Users()[2])
	}
}

func TestMutationsAndChanges(t *testing.T) {
	ten := Generate(Small())
	u := ten.Users()[0]
	inbox, _ := ten.Folder(u.ID, "inbox")
	archive, _ := ten.Folder(u.ID, "archive")
	start := ten.ChangeSeq()
	all, _, err := ten.FolderChanges(u.ID, inbox.ID, 0, start, 0, 0)
	if err != nil || len(all) == 0 {
		t.Fatalf("FolderChanges = %d, %v", len(all), err)
	}
	a, b, c := all[0].Message, all[1].Message, all[2].Message
	if err := ten.SetRead(u.ID, a.ID, !a.IsRead); err != nil {
		t.Fatal(err)
	}
	if err := ten.DeleteMessage(u.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := ten.MoveMessage(u.ID, c.ID, archive.ID); err != nil {
		t.Fatal(err)
	}
	added, err := ten.AddMessage(u.ID, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("Subject: caf\xe9\r\n\r\nbody\r\n")
	r, err := ten.AddRawMessage(u.ID, inbox.ID, raw, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil || r.Subject != "café" || r.Size != int64(len(raw)) {
		t.Fatalf("AddRawMessage = %+v, %v", r, err)
	}
	if got := readAll(t, ten, u.ID, r.ID); !bytes.Equal(got, raw) {
		t.Errorf("raw message altered: %q", got)
	}
	got := readAll(t, ten, u.ID, added.ID)
	if h := sha256.Sum256(got); hex.EncodeToString(h[:]) != added.SHA256 {
		t.Errorf("added message hash mismatch")
	}
	ch, _, err := ten.FolderChanges(u.ID, inbox.ID, start, ten.ChangeSeq(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, x := range ch {
		switch {
		case x.Removed && x.ID == b.ID:
			summary = append(summary, "del")
		case x.Removed && x.ID == c.ID:
			summary = append(summary, "moved")
		case x.ID == a.ID && x.Message.ChangeKey != a.ChangeKey:
			summary = append(summary, "read")
		case x.ID == added.ID:
			summary = append(summary, "added")
		case x.ID == r.ID:
			summary = append(summary, "raw")
		default:
			summary = append(summary, "?"+x.ID)
		}
	}
	if strings.Join(summary, ",") != "read,del,moved,added,raw" {
		t.Errorf("inbox changes = %v", summary)
	}
	moved, err := ten.Message(u.ID, c.ID)
	if err != nil || moved.FolderID != archive.ID {
		t.Errorf("moved message = %+v, %v (id must survive the move)", moved, err)
	}
	if _, err := ten.Message(u.ID, b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("deleted message: err = %v, want ErrNotFound", err)
	}
	// A folder id of another mailbox maps to the same folder here.
	other := ten.Users()[1]
	if m, err := ten.AddMessage(other.ID, inbox.ID); err != nil {
		t.Errorf("AddMessage with another mailbox's inbox: %v", err)
	} else if f, _ := ten.Folder(other.ID, m.FolderID); f.WellKnown != "inbox" {
		t.Errorf("mapped to %+v, want the inbox", f)
	}
	e := ten.DeltaEpoch()
	ten.ExpireDeltaTokens()
	if ten.DeltaEpoch() == e {
		t.Errorf("ExpireDeltaTokens did not change the epoch")
	}
}

func TestLargeStreamed(t *testing.T) {
	ten := Generate(Config{Seed: 5, Users: 2, Messages: 20, LargeMessages: 1})
	for _, u := range ten.Users() {
		for _, m := range ten.Messages(u.ID) {
			if m.Size < 20<<20 {
				continue
			}
			rc, n, err := ten.MIME(u.ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			c, err := io.Copy(h, rc)
			rc.Close()
			if err != nil || c != n || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
				t.Fatalf("large message: %d bytes of %d, err %v, hash match %v", c, n, err, hex.EncodeToString(h.Sum(nil)) == m.SHA256)
			}
			return
		}
	}
	t.Fatal("no large message generated")
}

// raceEnabled is set by race_test.go: the race detector makes generation ~10x slower.
var raceEnabled bool

func TestBenchSizeFast(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 10,000-message generation")
	}
	start := time.Now()
	ten := Generate(Config{Seed: 10, Users: 4, Messages: 10000})
	d := time.Since(start)
	n, b := ten.Stats()
	t.Logf("10,000 messages, %d MB, generated in %v", b>>20, d)
	if n != 10000 {
		t.Errorf("Stats() = %d, want 10000", n)
	}
	if d > 10*time.Second && !raceEnabled {
		t.Errorf("generation took %v, want a few seconds", d)
	}
}
