// Package sinktest is the conformance suite every message sink passes against a real server:
// folders with hostile names, byte-exact appends with flags and dates, pipelined concurrency,
// look-ups after a crash, flag updates, deletions, and refusals classified as permanent.
package sinktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Harness tells the suite how to reach one fresh target account.
type Harness struct {
	// Open opens a writer on the account under test (fresh for each subtest).
	Open func(t *testing.T) load.MailboxWriter
	// Read returns what the account holds now.
	Read func(t *testing.T) *imapcheck.Snapshot
	// SpecialUse: the server reports special-use attributes (RFC 6154).
	SpecialUse bool
	// RejectAbove: the server refuses messages larger than this; 0 leaves that case out.
	RejectAbove int64
	// Large is the size of the large message tested (0 = 25 MiB).
	Large int64
	// Binary: the sink keeps bare LF / NUL bytes exact (BINARY APPEND).
	Binary bool
}

// Run runs the suite. Subtests share the account, so each uses folders of its own.
func Run(t *testing.T, h Harness) {
	if h.Large == 0 {
		h.Large = 25 << 20
	}
	t.Run("Folders", func(t *testing.T) { testFolders(t, h) })
	t.Run("AppendExact", func(t *testing.T) { testAppendExact(t, h) })
	t.Run("ConcurrentAppends", func(t *testing.T) { testConcurrent(t, h) })
	t.Run("Lookup", func(t *testing.T) { testLookup(t, h) })
	t.Run("SetFlagsAndDelete", func(t *testing.T) { testFlagsDelete(t, h) })
	if h.RejectAbove > 0 {
		t.Run("Refused", func(t *testing.T) { testRefused(t, h) })
	}
}

func open(t *testing.T, h Harness) load.MailboxWriter {
	w := h.Open(t)
	t.Cleanup(func() { w.Close() })
	return w
}

func folder(id, parent string, wellKnown string, path ...string) model.Folder {
	return model.Folder{ID: id, ParentID: parent, WellKnown: wellKnown, Path: path}
}

func find(s *imapcheck.Snapshot, name string) *imapcheck.Folder {
	for i := range s.Folders {
		if s.Folders[i].Name == name {
			return &s.Folders[i]
		}
	}
	return nil
}

func testFolders(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	inbox, err := w.EnsureFolder(ctx, folder("f-inbox", "root", model.WellKnownInbox, "Boîte de réception"))
	if err != nil || inbox.Name != "INBOX" {
		t.Fatalf("EnsureFolder(inbox) = %+v, %v; want INBOX", inbox, err)
	}
	fs := []model.Folder{
		folder("f-proj", "f-inbox", "", "Boîte de réception", "Projets"),
		folder("f-ete", "f-proj", "", "Boîte de réception", "Projets", "Été 2024"),
		folder("f-hostile", "root", "", "êé/Hello, 世界"),
		folder("f-jp", "root", "", "日本語"),
		folder("f-ab", "root", "", "A/B tests"),
		folder("f-amp", "root", "", "Clients & Partenaires"),
	}
	refs := map[string]load.FolderRef{}
	for _, f := range fs {
		ref, err := w.EnsureFolder(ctx, f)
		if err != nil {
			t.Fatalf("EnsureFolder(%q) = %v", strings.Join(f.Path, "/"), err)
		}
		refs[f.ID] = ref
		again, err := w.EnsureFolder(ctx, f)
		if err != nil || again != ref {
			t.Fatalf("EnsureFolder(%q) again = %+v, %v; want %+v", strings.Join(f.Path, "/"), again, err, ref)
		}
	}
	if !strings.HasPrefix(refs["f-ete"].Name, refs["f-proj"].Name) || !strings.HasPrefix(refs["f-proj"].Name, "INBOX") {
		t.Errorf("nested folders: %q under %q under INBOX", refs["f-ete"].Name, refs["f-proj"].Name)
	}
	sent, err := w.EnsureFolder(ctx, folder("f-sent", "root", model.WellKnownSentItems, "Éléments envoyés"))
	if err != nil {
		t.Fatalf("EnsureFolder(sentitems) = %v", err)
	}
	// A second writer (a rerun) finds the same folders.
	w2 := open(t, h)
	for _, f := range append(fs, folder("f-sent", "root", model.WellKnownSentItems, "Éléments envoyés")) {
		if f.ParentID == "f-inbox" {
			if _, err := w2.EnsureFolder(ctx, folder("f-inbox", "root", model.WellKnownInbox, "Inbox")); err != nil {
				t.Fatal(err)
			}
		}
		ref, err := w2.EnsureFolder(ctx, f)
		want := refs[f.ID]
		if f.ID == "f-sent" {
			want = sent
		}
		if err != nil || ref != want {
			t.Errorf("rerun EnsureFolder(%q) = %+v, %v; want %+v", strings.Join(f.Path, "/"), ref, err, want)
		}
	}
	snap := h.Read(t)
	for id, ref := range refs {
		if find(snap, ref.Name) == nil {
			t.Errorf("folder %s (%q) is not on the target", id, ref.Name)
		}
	}
	if h.SpecialUse {
		f := find(snap, sent.Name)
		if f == nil || !hasAttr(f.Attrs, imap.MailboxAttrSent) {
			t.Errorf("sent items went to %q, which is not the \\Sent folder (%v)", sent.Name, f)
		}
	}
}

func hasAttr(l []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range l {
		if x == a {
			return true
		}
	}
	return false
}

func item(id string, body []byte, flags model.Flags, received time.Time, messageID string) load.Item {
	sum := sha256.Sum256(body)
	return load.Item{Message: model.Message{ID: id, Flags: flags, Received: received, MessageID: messageID},
		Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func testAppendExact(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	ref, err := w.EnsureFolder(ctx, folder("f-exact", "root", "", "Exact"))
	if err != nil {
		t.Fatal(err)
	}
	paris := time.FixedZone("CET", 3600)
	large := make([]byte, h.Large)
	hdr := copy(large, "From: big@example.org\r\nSubject: large\r\nContent-Type: application/octet-stream\r\n\r\n")
	for i := hdr; i < len(large)-2; i++ {
		large[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i*7)%64]
		if i%78 == 0 {
			large[i-1], large[i] = '\r', '\n'
		}
	}
	copy(large[len(large)-2:], "\r\n")
	cases := []struct {
		name  string
		body  []byte
		flags model.Flags
		when  time.Time
	}{
		{"plain", []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\nMessage-ID: <p1@example.org>\r\n\r\nhello\r\n"), model.Flags{Seen: true}, time.Date(2021, 6, 1, 12, 30, 5, 0, paris)},
		{"8bit", []byte("From: =?iso-8859-1?q?J=E9r=F4me?= <j@example.org>\r\nSubject: caf\xe9 cr\xe8me\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\xe9j\xe0 vu\r\n"), model.Flags{Flagged: true, Answered: true}, time.Date(2015, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"malformed", []byte("Subject: =?utf-8?B?broken\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n"), model.Flags{Draft: true}, time.Date(2010, 12, 31, 23, 59, 59, 0, time.FixedZone("", -5*3600))},
		{"large", large, model.Flags{}, time.Date(2024, 2, 29, 8, 0, 0, 0, time.UTC)},
	}
	if h.Binary {
		cases = append(cases, struct {
			name  string
			body  []byte
			flags model.Flags
			when  time.Time
		}{"binary", []byte("From: a@example.org\nSubject: bare LF and NUL\n\nline\x00one\nline two\r\n"), model.Flags{Seen: true}, time.Date(2020, 5, 5, 5, 5, 5, 0, time.UTC)})
	}
	uids := map[uint32]int{}
	for i, c := range cases {
		it := item(c.name, c.body, c.flags, c.when, "")
		it.Binary = c.name == "binary"
		got, err := w.Append(ctx, ref, it)
		if err != nil {
			t.Fatalf("Append(%s) = %v", c.name, err)
		}
		if got.Folder.Name != ref.Name {
			t.Errorf("Append(%s) landed in %q", c.name, got.Folder.Name)
		}
		uids[got.UID] = i
	}
	snap := h.Read(t)
	f := find(snap, ref.Name)
	if f == nil || len(f.Messages) != len(cases) {
		t.Fatalf("folder %q holds %v, want %d messages", ref.Name, f, len(cases))
	}
	for _, m := range f.Messages {
		i, ok := uids[m.UID]
		if !ok && len(uids) > 1 { // servers without UIDPLUS return UID 0
			t.Errorf("unexpected UID %d", m.UID)
			continue
		}
		c := cases[i]
		if m.SHA256 != sha(c.body) {
			t.Errorf("%s: bytes changed on the target (size %d, want %d)", c.name, m.Size, len(c.body))
		}
		if !m.InternalDate.Equal(c.when) {
			t.Errorf("%s: INTERNALDATE %v, want %v", c.name, m.InternalDate, c.when)
		}
		for flag, want := range map[imap.Flag]bool{imap.FlagSeen: c.flags.Seen, imap.FlagFlagged: c.flags.Flagged, imap.FlagAnswered: c.flags.Answered, imap.FlagDraft: c.flags.Draft} {
			if m.Has(flag) != want {
				t.Errorf("%s: %s = %v, want %v", c.name, flag, m.Has(flag), want)
			}
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	ref, err := w.EnsureFolder(ctx, folder("f-conc", "root", "", "Concurrent"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	want := map[string]bool{}
	for i := range n {
		body := []byte(fmt.Sprintf("From: c@example.org\r\nSubject: concurrent %d\r\n\r\n%s\r\n", i, strings.Repeat("z", i*50)))
		want[sha(body)] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Append(ctx, ref, item(fmt.Sprint(i), body, model.Flags{}, time.Now(), "")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append = %v", err)
	}
	f := find(h.Read(t), ref.Name)
	if f == nil || len(f.Messages) != n {
		t.Fatalf("after %d concurrent appends the folder holds %v", n, f)
	}
	for _, m := range f.Messages {
		if !want[m.SHA256] {
			t.Errorf("UID %d: unexpected bytes", m.UID)
		}
		delete(want, m.SHA256)
	}
	if len(want) != 0 {
		t.Errorf("%d messages missing", len(want))
	}
}

func testLookup(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	ref, err := w.EnsureFolder(ctx, folder("f-lookup", "root", "", "Lookup"))
	if err != nil {
		t.Fatal(err)
	}
	withID := []byte("From: a@example.org\r\nMessage-ID: <lookup-1@example.org>\r\nSubject: with id\r\n\r\nbody\r\n")
	noID := []byte("From: a@example.org\r\nSubject: no id\r\n\r\nsame bytes twice\r\n")
	when := time.Date(2022, 3, 3, 3, 3, 3, 0, time.UTC)
	r1, err := w.Append(ctx, ref, item("1", withID, model.Flags{}, when, "<lookup-1@example.org>"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := w.Append(ctx, ref, item("2", noID, model.Flags{}, when, ""))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := w.Append(ctx, ref, item("3", noID, model.Flags{}, when, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r1.UID == 0 {
		t.Skip("the server gives no APPENDUID: look-ups cannot be checked against UIDs")
	}
	got, err := w.Lookup(ctx, ref, model.Message{MessageID: "<lookup-1@example.org>"}, int64(len(withID)), sha(withID), nil)
	if err != nil || got.UID != r1.UID {
		t.Errorf("Lookup(with Message-ID) = %+v, %v; want UID %d", got, err, r1.UID)
	}
	if _, err := w.Lookup(ctx, ref, model.Message{MessageID: "<lookup-1@example.org>"}, int64(len(withID)), sha(withID), map[uint32]bool{r1.UID: true}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup excluding its UID = %v, want ErrNotFound", err)
	}
	a, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(noID), map[uint32]bool{})
	if err != nil || (a.UID != r2.UID && a.UID != r3.UID) {
		t.Fatalf("Lookup(no Message-ID) = %+v, %v", a, err)
	}
	b, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(noID), map[uint32]bool{a.UID: true})
	if err != nil || b.UID == a.UID || (b.UID != r2.UID && b.UID != r3.UID) {
		t.Errorf("identical bytes: second Lookup = %+v, %v; want the other copy of %d", b, err, a.UID)
	}
	if _, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(withID), nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup with a wrong SHA-256 = %v, want ErrNotFound", err)
	}
}

func testFlagsDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	ref, err := w.EnsureFolder(ctx, folder("f-flags", "root", "", "Flags"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("From: a@example.org\r\nSubject: flags\r\n\r\nx\r\n")
	r, err := w.Append(ctx, ref, item("1", body, model.Flags{Seen: true, Draft: true}, time.Now(), ""))
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.Append(ctx, ref, item("2", []byte("Subject: other\r\n\r\ny\r\n"), model.Flags{}, time.Now(), ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.UID == 0 {
		t.Skip("the server gives no APPENDUID")
	}
	if err := w.SetFlags(ctx, r, model.Flags{Flagged: true, Answered: true}); err != nil {
		t.Fatalf("SetFlags = %v", err)
	}
	m := find(h.Read(t), ref.Name).Messages
	var got imapcheck.Message
	for _, x := range m {
		if x.UID == r.UID {
			got = x
		}
	}
	if got.Has(imap.FlagSeen) || got.Has(imap.FlagDraft) || !got.Has(imap.FlagFlagged) || !got.Has(imap.FlagAnswered) {
		t.Errorf("after SetFlags the flags are %v", got.Flags)
	}
	missing := load.ItemRef{Folder: r.Folder, UID: r.UID + 1000}
	if err := w.SetFlags(ctx, missing, model.Flags{Seen: true}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SetFlags on a missing UID = %v, want ErrNotFound", err)
	}
	if err := w.Delete(ctx, r); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if err := w.Delete(ctx, r); err != nil {
		t.Errorf("Delete again = %v, want nil", err)
	}
	m = find(h.Read(t), ref.Name).Messages
	if len(m) != 1 || m[0].UID != other.UID {
		t.Errorf("after Delete the folder holds %+v, want only UID %d", m, other.UID)
	}
}

func testRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	w := open(t, h)
	ref, err := w.EnsureFolder(ctx, folder("f-refused", "root", "", "Refused"))
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte("Subject: too big\r\n\r\n"), bytes.Repeat([]byte("y"), int(h.RejectAbove)+10)...)
	_, err = w.Append(ctx, ref, item("big", big, model.Flags{}, time.Now(), ""))
	if !errors.Is(err, model.ErrPermanent) {
		t.Fatalf("Append(too big) = %v, want a permanent error", err)
	}
	// The writer goes on working after a refusal.
	if _, err := w.Append(ctx, ref, item("small", []byte("Subject: small\r\n\r\nok\r\n"), model.Flags{}, time.Now(), "")); err != nil {
		t.Fatalf("Append after a refusal = %v", err)
	}
}
