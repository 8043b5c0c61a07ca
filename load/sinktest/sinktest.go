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

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Harness tells the suite how to reach one target account and what the server can do. The
// account may hold anything already: every case works in folders of its own.
type Harness struct {
	// Open opens a writer on the account under test (a new session each call).
	Open func(t *testing.T) load.MailboxWriter
	// Read returns what the account holds now, read with a client independent of the sink.
	Read func(t *testing.T) testenv.Account
	// AddKeyword sets a keyword on one message behind the sink's back (to check SetFlags
	// keeps what it does not manage); nil leaves that check out.
	AddKeyword func(t *testing.T, ref load.ItemRef, keyword imap.Flag)
	// SpecialUse: the server reports special-use attributes (RFC 6154), so well-known folders
	// must land in folders that carry them.
	SpecialUse bool
	// NoAppendUID: the server may not say where a message landed (no UIDPLUS APPENDUID).
	NoAppendUID bool
	// NoUIDExpunge: the server has no UID EXPUNGE (no UIDPLUS); Delete only marks \Deleted.
	NoUIDExpunge bool
	// KeepsZone: INTERNALDATE comes back in the zone it was given (Dovecot answers in its own
	// zone; the instant is checked either way).
	KeepsZone bool
	// RejectAbove: the server refuses messages larger than this; 0 leaves that case out.
	RejectAbove int64
	// RejectText is a piece of the server's refusal text that the error must carry.
	RejectText string
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

// folderView is one folder read back, with its messages.
type folderView struct {
	testenv.StoredFolder
	Messages []testenv.StoredMessage
}

func find(a testenv.Account, name string) *folderView {
	f, ok := a.Folder(name)
	if !ok {
		return nil
	}
	return &folderView{StoredFolder: f, Messages: a.Messages[name]}
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
	// Well-known folders, named as a French Exchange names them.
	wellKnown := []struct {
		f   model.Folder
		use imap.MailboxAttr
	}{
		{folder("f-sent", "root", model.WellKnownSentItems, "Éléments envoyés"), imap.MailboxAttrSent},
		{folder("f-drafts", "root", model.WellKnownDrafts, "Brouillons"), imap.MailboxAttrDrafts},
		{folder("f-trash", "root", model.WellKnownDeletedItems, "Éléments supprimés"), imap.MailboxAttrTrash},
		{folder("f-junk", "root", model.WellKnownJunkEmail, "Courrier indésirable"), imap.MailboxAttrJunk},
		{folder("f-archive", "root", model.WellKnownArchive, "Archives"), imap.MailboxAttrArchive},
		{folder("f-outbox", "root", model.WellKnownOutbox, "Boîte d'envoi"), ""},
	}
	names := map[string]string{}
	for _, wk := range wellKnown {
		ref, err := w.EnsureFolder(ctx, wk.f)
		if err != nil {
			t.Fatalf("EnsureFolder(%s) = %v", wk.f.WellKnown, err)
		}
		if prev, dup := names[ref.Name]; dup {
			t.Errorf("%s and %s both went to %q", prev, wk.f.WellKnown, ref.Name)
		}
		names[ref.Name] = wk.f.WellKnown
		refs[wk.f.ID] = ref
		fs = append(fs, wk.f)
	}
	// A second writer (a rerun) finds the same folders.
	w2 := open(t, h)
	if _, err := w2.EnsureFolder(ctx, folder("f-inbox", "root", model.WellKnownInbox, "Inbox")); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		ref, err := w2.EnsureFolder(ctx, f)
		if want := refs[f.ID]; err != nil || ref != want {
			t.Errorf("rerun EnsureFolder(%q) = %+v, %v; want %+v", strings.Join(f.Path, "/"), ref, err, want)
		}
	}
	snap := h.Read(t)
	for id, ref := range refs {
		if find(snap, ref.Name) == nil {
			t.Errorf("folder %s (%q) is not on the target", id, ref.Name)
		}
	}
	// A separator inside a display name does not make a hierarchy.
	for _, name := range []string{"A", "êé"} {
		if find(snap, name) != nil {
			t.Errorf("a folder %q exists: a display name holding the separator was split", name)
		}
	}
	if h.SpecialUse {
		for _, wk := range wellKnown {
			if wk.use == "" {
				continue
			}
			f := find(snap, refs[wk.f.ID].Name)
			if f == nil || !f.Has(wk.use) {
				t.Errorf("%s went to %q, which is not the %s folder (%+v)", wk.f.WellKnown, refs[wk.f.ID].Name, wk.use, f)
			}
		}
	}
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
	uids := map[int]uint32{}
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
		if got.UID == 0 && !h.NoAppendUID {
			t.Errorf("Append(%s) = UID 0: the server gave no APPENDUID", c.name)
		}
		uids[i] = got.UID
	}
	snap := h.Read(t)
	f := find(snap, ref.Name)
	if f == nil || len(f.Messages) != len(cases) {
		t.Fatalf("folder %q holds %v, want %d messages", ref.Name, f, len(cases))
	}
	bySHA := map[string]testenv.StoredMessage{}
	for _, m := range f.Messages {
		bySHA[m.SHA256] = m
	}
	for i, c := range cases {
		m, ok := bySHA[sha(c.body)]
		if !ok {
			t.Errorf("%s: no message on the target has its bytes (changed in transit?)", c.name)
			continue
		}
		if uids[i] != 0 && m.UID != uids[i] {
			t.Errorf("%s: Append said UID %d, it is at UID %d", c.name, uids[i], m.UID)
		}
		if m.Size != int64(len(c.body)) {
			t.Errorf("%s: RFC822.SIZE %d, want %d", c.name, m.Size, len(c.body))
		}
		if !m.InternalDate.Equal(c.when) {
			t.Errorf("%s: INTERNALDATE %v, want %v", c.name, m.InternalDate, c.when)
		}
		_, gotOff := m.InternalDate.Zone()
		_, wantOff := c.when.Zone()
		if h.KeepsZone && gotOff != wantOff {
			t.Errorf("%s: INTERNALDATE zone %v, want %v", c.name, m.InternalDate, c.when)
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
	var mu sync.Mutex
	uidOf := map[string]uint32{} // SHA-256 → UID that Append returned
	for i := range n {
		// Sizes from a few bytes to ~10 KB: small and large literals interleave.
		body := []byte(fmt.Sprintf("From: c@example.org\r\nSubject: concurrent %d\r\n\r\n%s\r\n", i, strings.Repeat("z", i*50)))
		want[sha(body)] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.Append(ctx, ref, item(fmt.Sprint(i), body, model.Flags{}, time.Now(), ""))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			uidOf[sha(body)] = r.UID
			mu.Unlock()
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
		if u := uidOf[m.SHA256]; (u != 0 || !h.NoAppendUID) && u != m.UID {
			t.Errorf("UID %d: Append returned UID %d for these bytes", m.UID, u)
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
	sameSize := []byte("From: a@example.org\r\nSubject: no id\r\n\r\nsame bytes tw1ce\r\n") // same size, other bytes
	when := time.Date(2022, 3, 3, 3, 3, 3, 0, time.UTC)
	for i, b := range [][]byte{withID, noID, noID, sameSize} {
		if _, err := w.Append(ctx, ref, item(fmt.Sprint(i), b, model.Flags{}, when, "")); err != nil {
			t.Fatal(err)
		}
	}
	// Where they really are, read independently of the sink.
	uidsOf := map[string][]uint32{}
	for _, m := range find(h.Read(t), ref.Name).Messages {
		uidsOf[m.SHA256] = append(uidsOf[m.SHA256], m.UID)
	}
	if len(uidsOf[sha(withID)]) != 1 || len(uidsOf[sha(noID)]) != 2 {
		t.Fatalf("the folder holds %v", uidsOf)
	}
	idUID, copies := uidsOf[sha(withID)][0], uidsOf[sha(noID)]

	for _, mid := range []string{"<lookup-1@example.org>", "", "<written-otherwise@example.org>"} {
		got, err := w.Lookup(ctx, ref, model.Message{MessageID: mid}, int64(len(withID)), sha(withID), nil)
		if err != nil || got.UID != idUID || got.Folder.Name != ref.Name {
			t.Errorf("Lookup(Message-ID %q) = %+v, %v; want UID %d", mid, got, err, idUID)
		}
	}
	if _, err := w.Lookup(ctx, ref, model.Message{MessageID: "<lookup-1@example.org>"}, int64(len(withID)), sha(withID), map[uint32]bool{idUID: true}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup excluding its UID = %v, want ErrNotFound", err)
	}
	// Two identical messages are told apart by exclude.
	a, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(noID), map[uint32]bool{})
	if err != nil || (a.UID != copies[0] && a.UID != copies[1]) {
		t.Fatalf("Lookup(no Message-ID) = %+v, %v; want one of %v", a, err, copies)
	}
	b, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(noID), map[uint32]bool{a.UID: true})
	if err != nil || b.UID == a.UID || (b.UID != copies[0] && b.UID != copies[1]) {
		t.Errorf("identical bytes: second Lookup = %+v, %v; want the other copy of %d among %v", b, err, a.UID, copies)
	}
	if _, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(noID), map[uint32]bool{copies[0]: true, copies[1]: true}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup with both copies excluded = %v, want ErrNotFound", err)
	}
	// Same size, other bytes: the SHA-256 decides.
	if _, err := w.Lookup(ctx, ref, model.Message{}, int64(len(noID)), sha(withID), nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup with a wrong SHA-256 = %v, want ErrNotFound", err)
	}
	if _, err := w.Lookup(ctx, ref, model.Message{}, 12345, sha(noID), nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Lookup with a wrong size = %v, want ErrNotFound", err)
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
	otherBody := []byte("Subject: other\r\n\r\ny\r\n")
	if _, err := w.Append(ctx, ref, item("1", body, model.Flags{Seen: true, Draft: true, Keywords: "$Junk"}, time.Now(), "")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, ref, item("2", otherBody, model.Flags{}, time.Now(), "")); err != nil {
		t.Fatal(err)
	}
	r, err := w.Lookup(ctx, ref, model.Message{}, int64(len(body)), sha(body), nil)
	if err != nil {
		t.Fatalf("Lookup = %v", err)
	}
	other, err := w.Lookup(ctx, ref, model.Message{}, int64(len(otherBody)), sha(otherBody), nil)
	if err != nil {
		t.Fatalf("Lookup = %v", err)
	}
	const keyword = imap.Flag("$Label1")
	if h.AddKeyword != nil {
		h.AddKeyword(t, r, keyword)
	}
	stored := func(uid uint32) (testenv.StoredMessage, bool) {
		for _, x := range find(h.Read(t), ref.Name).Messages {
			if x.UID == uid {
				return x, true
			}
		}
		return testenv.StoredMessage{}, false
	}
	// The source's keywords follow: added, then removed when the source drops them; the
	// keyword set on the target by someone else stays.
	from := model.Flags{Seen: true, Draft: true, Keywords: "$Junk"}
	if got, _ := stored(r.UID); !got.Has("$Junk") || !got.Has(imap.FlagSeen) || !got.Has(imap.FlagDraft) {
		t.Errorf("appended with \\Seen \\Draft $Junk, stored with %v", got.Flags)
	}
	for _, want := range []model.Flags{{Flagged: true, Answered: true, Keywords: "$Forwarded $Work"}, {Seen: true, Draft: true, Keywords: "$Personal $Work"}, {}} {
		if err := w.SetFlags(ctx, r, from, want); err != nil {
			t.Fatalf("SetFlags(%+v) = %v", want, err)
		}
		from = want
		got, _ := stored(r.UID)
		expect := map[imap.Flag]bool{imap.FlagSeen: want.Seen, imap.FlagFlagged: want.Flagged, imap.FlagAnswered: want.Answered, imap.FlagDraft: want.Draft}
		for _, k := range []imap.Flag{"$Junk", "$Forwarded", "$Work", "$Personal"} {
			expect[k] = strings.Contains(" "+want.Keywords+" ", " "+string(k)+" ")
		}
		for flag, on := range expect {
			if got.Has(flag) != on {
				t.Errorf("after SetFlags(%+v) the flags are %v", want, got.Flags)
				break
			}
		}
		if h.AddKeyword != nil && !got.Has(keyword) {
			t.Errorf("after SetFlags(%+v) the keyword %s is gone: %v", want, keyword, got.Flags)
		}
	}
	if got, _ := stored(other.UID); len(got.Flags) != 0 {
		t.Errorf("SetFlags touched another message: %v", got.Flags)
	}
	missing := load.ItemRef{Folder: r.Folder, UID: r.UID + 1000}
	if err := w.SetFlags(ctx, missing, model.Flags{}, model.Flags{Seen: true}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SetFlags on a missing UID = %v, want ErrNotFound", err)
	}
	if err := w.Delete(ctx, r); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if err := w.Delete(ctx, r); err != nil {
		t.Errorf("Delete again = %v, want nil", err)
	}
	m := find(h.Read(t), ref.Name).Messages
	if h.NoUIDExpunge {
		if got, ok := stored(r.UID); !ok || !got.Has(imap.FlagDeleted) || len(m) != 2 {
			t.Errorf("without UID EXPUNGE: the message should stay, marked \\Deleted: %+v", m)
		}
		return
	}
	if len(m) != 1 || m[0].UID != other.UID || m[0].Has(imap.FlagDeleted) {
		t.Errorf("after Delete the folder holds %+v, want only UID %d, unmarked", m, other.UID)
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
	if !errors.Is(err, model.ErrPermanent) || errors.Is(err, model.ErrRetryable) {
		t.Fatalf("Append(too big) = %v, want a permanent error", err)
	}
	if h.RejectText != "" && !strings.Contains(err.Error(), h.RejectText) {
		t.Errorf("Append(too big) = %v: the server's text %q is missing", err, h.RejectText)
	}
	// The writer goes on working after a refusal, and nothing of the refused message landed.
	small := []byte("Subject: small\r\n\r\nok\r\n")
	if _, err := w.Append(ctx, ref, item("small", small, model.Flags{}, time.Now(), "")); err != nil {
		t.Fatalf("Append after a refusal = %v", err)
	}
	m := find(h.Read(t), ref.Name).Messages
	if len(m) != 1 || m[0].SHA256 != sha(small) {
		t.Errorf("after a refusal the folder holds %+v, want only the small message", m)
	}
}
