// Package sourcetest is the conformance suite every extract.Source passes: mailbox listing
// and not-found, folders parents-first with non-ASCII paths, a full pass that yields every
// message exactly once and ends on a Final checkpoint, Open bytes that hash to the truth,
// a no-change delta pass, a delta after mutations that yields exactly those changes, and
// an expired cursor. RunGroupware (groupware.go) is the same for calendars, contacts and
// task lists of an extract.GroupwareSource.
//
// A source's own test file builds a Harness (the Source, its truth, its mutators) and
// calls Run. The suite mutates the source: give it a source of its own.
package sourcetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Truth is what the source really holds, as its test environment knows it.
type Truth struct {
	Mailboxes []MailboxTruth
}

// MailboxTruth is one mailbox and its content.
type MailboxTruth struct {
	// Mailbox: ID, Address and Kind ("" = not checked) are compared.
	Mailbox model.Mailbox
	// Folders in any order; ID, ParentID ("" for top level), Path and WellKnown are compared.
	Folders []model.Folder
	// Messages are the live messages.
	Messages []MessageTruth
}

// MessageTruth is one live message.
type MessageTruth struct {
	ID, FolderID string
	// SHA256 is the hex digest of the exact RFC 5322 bytes.
	SHA256 string
	// Size is the byte count of the RFC 5322 bytes.
	Size int64
	// Flags are compared with the Upsert's flags.
	Flags model.Flags
}

// Harness gives the suite a Source and the means to know and change what it serves.
// Every func is required unless said otherwise.
type Harness struct {
	// Source is the source under test.
	Source extract.Source
	// Truth returns the source's current content.
	Truth func(t testing.TB) Truth
	// SetRead marks a message read or unread on the source.
	SetRead func(t testing.TB, mbx model.Mailbox, msgID string, read bool)
	// Add puts a new message in a folder and returns its id.
	Add func(t testing.TB, mbx model.Mailbox, folderID string) string
	// Delete removes a message.
	Delete func(t testing.TB, mbx model.Mailbox, msgID string)
	// ExpireCursors makes every cursor issued so far invalid.
	ExpireCursors func(t testing.TB)
	// MaxOpen bounds how many messages the Open test downloads (0 = all).
	MaxOpen int
	// Timeout bounds the whole suite (default 5 minutes).
	Timeout time.Duration
}

// folderKey identifies a folder across mailboxes.
type folderKey struct{ mbx, folder string }

// suite is the state carried from one test to the next.
type suite struct {
	h       Harness
	ctx     context.Context
	truth   Truth
	boxes   []model.Mailbox
	folders map[string][]model.Folder // by mailbox id
	cursors map[folderKey]string      // Final cursors of the last pass
}

// Run runs the suite against h. The tests run in order and share state (later ones start
// from the cursors of the full pass).
func Run(t *testing.T, h Harness) {
	if h.Source == nil || h.Truth == nil || h.SetRead == nil || h.Add == nil || h.Delete == nil || h.ExpireCursors == nil {
		t.Fatal("sourcetest.Harness: Source, Truth, SetRead, Add, Delete and ExpireCursors are required")
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := &suite{h: h, ctx: ctx, truth: h.Truth(t), folders: map[string][]model.Folder{}, cursors: map[folderKey]string{}}
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Mailboxes", s.testMailboxes},
		{"Folders", s.testFolders},
		{"FullPass", s.testFullPass},
		{"Open", s.testOpen},
		{"NoChangePass", s.testNoChange},
		{"Mutations", s.testMutations},
		{"ExpiredCursor", s.testExpired},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.fn) {
			t.Fatalf("%s failed: the following tests depend on it", st.name)
		}
	}
}

func (s *suite) testMailboxes(t *testing.T) {
	got, err := s.h.Source.Mailboxes(s.ctx, extract.Selection{})
	if err != nil {
		t.Fatalf("Mailboxes(all) = %v", err)
	}
	want := map[string]model.Mailbox{}
	for _, m := range s.truth.Mailboxes {
		want[strings.ToLower(m.Mailbox.Address)] = m.Mailbox
	}
	if len(want) < 2 {
		t.Fatalf("the harness has %d mailboxes; the suite needs at least 2", len(want))
	}
	seen := map[string]bool{}
	for _, m := range got {
		k := strings.ToLower(m.Address)
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("Mailboxes(all) returned %q, which the truth does not have", m.Address)
		case seen[k]:
			t.Errorf("Mailboxes(all) returned %q twice", m.Address)
		case m.ID != w.ID:
			t.Errorf("mailbox %s: ID = %q, want %q", m.Address, m.ID, w.ID)
		case w.Kind != "" && m.Kind != w.Kind:
			t.Errorf("mailbox %s: Kind = %q, want %q", m.Address, m.Kind, w.Kind)
		}
		seen[k] = true
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("Mailboxes(all) is missing %s", k)
		}
	}
	s.boxes = got

	// One address, asked in another case.
	pick := s.truth.Mailboxes[len(s.truth.Mailboxes)-1].Mailbox
	one, err := s.h.Source.Mailboxes(s.ctx, extract.Selection{Addresses: []string{strings.ToUpper(pick.Address)}})
	if err != nil {
		t.Fatalf("Mailboxes(%s) = %v", strings.ToUpper(pick.Address), err)
	}
	if len(one) != 1 || one[0].ID != pick.ID {
		t.Errorf("Mailboxes(%s) = %+v, want just %s", strings.ToUpper(pick.Address), one, pick.ID)
	}

	missing := fmt.Sprintf("nobody-%d@absent.invalid", time.Now().UnixNano())
	_, err = s.h.Source.Mailboxes(s.ctx, extract.Selection{Addresses: []string{pick.Address, missing}})
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Mailboxes(%s, %s) = %v, want an error wrapping model.ErrNotFound", pick.Address, missing, err)
	}
}

func (s *suite) truthOf(mbxID string) *MailboxTruth {
	for i := range s.truth.Mailboxes {
		if s.truth.Mailboxes[i].Mailbox.ID == mbxID {
			return &s.truth.Mailboxes[i]
		}
	}
	return nil
}

func nonASCII(path []string) bool {
	for _, p := range path {
		for _, r := range p {
			if r >= utf8.RuneSelf {
				return true
			}
		}
	}
	return false
}

func (s *suite) testFolders(t *testing.T) {
	hostile := 0
	for _, mbx := range s.boxes {
		tr := s.truthOf(mbx.ID)
		got, err := s.h.Source.Folders(s.ctx, mbx)
		if err != nil {
			t.Fatalf("Folders(%s) = %v", mbx.Address, err)
		}
		before := map[string]bool{}
		byID := map[string]model.Folder{}
		for _, f := range got {
			if before[f.ID] {
				t.Errorf("%s: folder %q listed twice", mbx.Address, f.ID)
			}
			if f.ParentID != "" && !before[f.ParentID] {
				t.Errorf("%s: folder %q (%s) comes before its parent %q", mbx.Address, f.ID, strings.Join(f.Path, "/"), f.ParentID)
			}
			if f.ParentID != "" {
				if p := byID[f.ParentID]; !slices.Equal(p.Path, f.Path[:len(f.Path)-1]) {
					t.Errorf("%s: folder %q Path %q does not extend its parent's %q", mbx.Address, f.ID, f.Path, p.Path)
				}
			}
			before[f.ID] = true
			byID[f.ID] = f
		}
		for _, w := range tr.Folders {
			if nonASCII(w.Path) {
				hostile++
			}
			g, ok := byID[w.ID]
			if !ok {
				t.Errorf("%s: folder %q (%s) missing", mbx.Address, w.ID, strings.Join(w.Path, "/"))
				continue
			}
			if !slices.Equal(g.Path, w.Path) || g.ParentID != w.ParentID || g.WellKnown != w.WellKnown {
				t.Errorf("%s: folder %q = {Path %q, ParentID %q, WellKnown %q}, want {%q, %q, %q}", mbx.Address, w.ID,
					g.Path, g.ParentID, g.WellKnown, w.Path, w.ParentID, w.WellKnown)
			}
			delete(byID, w.ID)
		}
		for id, f := range byID {
			t.Errorf("%s: folder %q (%s) is not in the truth", mbx.Address, id, strings.Join(f.Path, "/"))
		}
		s.folders[mbx.ID] = got
	}
	if hostile == 0 {
		t.Errorf("no folder path of the harness has a non-ASCII name: the test proves nothing about them")
	}
}

// pass runs Changes over one folder from cursor and returns its elements, checking the
// stream's shape: no element after the Final checkpoint, which comes last.
func (s *suite) pass(t *testing.T, mbx model.Mailbox, f model.Folder, cursor string) (ups, dels []model.Message, final string) {
	t.Helper()
	var last extract.Change
	n := 0
	for c, err := range s.h.Source.Changes(s.ctx, mbx, f, cursor) {
		if err != nil {
			t.Fatalf("Changes(%s, %s) = %v", mbx.Address, strings.Join(f.Path, "/"), err)
		}
		if last.Final {
			t.Fatalf("Changes(%s, %s): an element after the Final checkpoint: %+v", mbx.Address, strings.Join(f.Path, "/"), c)
		}
		switch c.Kind {
		case extract.Upsert:
			ups = append(ups, c.Message)
		case extract.Delete:
			dels = append(dels, c.Message)
		case extract.Checkpoint:
			if c.Cursor == "" {
				t.Errorf("Changes(%s, %s): a Checkpoint without Cursor", mbx.Address, strings.Join(f.Path, "/"))
			}
		default:
			t.Errorf("Changes(%s, %s): unknown kind %d", mbx.Address, strings.Join(f.Path, "/"), c.Kind)
		}
		last = c
		n++
	}
	if last.Kind != extract.Checkpoint || !last.Final {
		t.Fatalf("Changes(%s, %s) ended on %+v, want a Final Checkpoint", mbx.Address, strings.Join(f.Path, "/"), last)
	}
	return ups, dels, last.Cursor
}

func (s *suite) testFullPass(t *testing.T) {
	total := 0
	for _, mbx := range s.boxes {
		tr := s.truthOf(mbx.ID)
		want := map[string]MessageTruth{}
		for _, m := range tr.Messages {
			want[m.ID] = m
		}
		seen := map[string]string{} // id → folder
		for _, f := range s.folders[mbx.ID] {
			ups, dels, final := s.pass(t, mbx, f, "")
			if len(dels) > 0 {
				t.Errorf("%s %s: the initial pass yielded %d Deletes", mbx.Address, strings.Join(f.Path, "/"), len(dels))
			}
			for _, m := range ups {
				if prev, dup := seen[m.ID]; dup {
					t.Errorf("%s: message %q yielded twice (folders %q and %q)", mbx.Address, m.ID, prev, f.ID)
					continue
				}
				seen[m.ID] = f.ID
				w, ok := want[m.ID]
				if !ok {
					t.Errorf("%s: message %q is not in the truth", mbx.Address, m.ID)
					continue
				}
				if w.FolderID != f.ID || m.FolderID != f.ID {
					t.Errorf("%s: message %q yielded in folder %q with FolderID %q, truth says %q", mbx.Address, m.ID, f.ID, m.FolderID, w.FolderID)
				}
				if m.Flags != w.Flags {
					t.Errorf("%s: message %q Flags = %+v, want %+v", mbx.Address, m.ID, m.Flags, w.Flags)
				}
				if m.Size != 0 && m.Size != w.Size {
					t.Errorf("%s: message %q Size = %d, want %d", mbx.Address, m.ID, m.Size, w.Size)
				}
				if m.ChangeKey == "" || m.Received.IsZero() {
					t.Errorf("%s: message %q has no ChangeKey or Received: %+v", mbx.Address, m.ID, m)
				}
			}
			s.cursors[folderKey{mbx.ID, f.ID}] = final
		}
		for id := range want {
			if _, ok := seen[id]; !ok {
				t.Errorf("%s: message %q never yielded", mbx.Address, id)
			}
		}
		total += len(seen)
	}
	if total == 0 {
		t.Fatal("the full pass yielded no message at all")
	}
}

func hashOpen(ctx context.Context, src extract.Source, mbx model.Mailbox, id string) (string, int64, error) {
	rc, err := src.Open(ctx, mbx, model.Message{ID: id})
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (s *suite) testOpen(t *testing.T) {
	type job struct {
		mbx model.Mailbox
		m   MessageTruth
	}
	var jobs []job
	for _, mbx := range s.boxes {
		for _, m := range s.truthOf(mbx.ID).Messages {
			jobs = append(jobs, job{mbx, m})
		}
	}
	if s.h.MaxOpen > 0 && len(jobs) > s.h.MaxOpen {
		// Spread the sample over every mailbox.
		step := len(jobs) / s.h.MaxOpen
		var sample []job
		for i := 0; i < len(jobs) && len(sample) < s.h.MaxOpen; i += step {
			sample = append(sample, jobs[i])
		}
		jobs = sample
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				sum, n, err := hashOpen(s.ctx, s.h.Source, j.mbx, j.m.ID)
				switch {
				case err != nil:
					t.Errorf("Open(%s, %s) = %v (after %d bytes)", j.mbx.Address, j.m.ID, err, n)
				case sum != j.m.SHA256 || n != j.m.Size:
					t.Errorf("Open(%s, %s): %d bytes with SHA-256 %s, want %d bytes with %s", j.mbx.Address, j.m.ID, n, sum, j.m.Size, j.m.SHA256)
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()

	_, err := s.h.Source.Open(s.ctx, s.boxes[0], model.Message{ID: "AAMkAbsentMessageId0000"})
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Open(absent message) = %v, want an error wrapping model.ErrNotFound", err)
	}
}

func (s *suite) testNoChange(t *testing.T) {
	for _, mbx := range s.boxes {
		for _, f := range s.folders[mbx.ID] {
			k := folderKey{mbx.ID, f.ID}
			ups, dels, final := s.pass(t, mbx, f, s.cursors[k])
			if len(ups)+len(dels) > 0 {
				t.Errorf("%s %s: a pass with no change yielded %d Upserts and %d Deletes", mbx.Address, strings.Join(f.Path, "/"), len(ups), len(dels))
			}
			s.cursors[k] = final
		}
	}
}

func (s *suite) testMutations(t *testing.T) {
	// The mailbox with the most messages, and its folder with the most.
	var mt *MailboxTruth
	for i := range s.truth.Mailboxes {
		if mt == nil || len(s.truth.Mailboxes[i].Messages) > len(mt.Messages) {
			mt = &s.truth.Mailboxes[i]
		}
	}
	var mbx model.Mailbox
	for _, m := range s.boxes {
		if m.ID == mt.Mailbox.ID {
			mbx = m
		}
	}
	perFolder := map[string][]MessageTruth{}
	for _, m := range mt.Messages {
		perFolder[m.FolderID] = append(perFolder[m.FolderID], m)
	}
	var busy string
	for id, ms := range perFolder {
		if len(ms) >= 2 && (busy == "" || len(ms) > len(perFolder[busy])) {
			busy = id
		}
	}
	if busy == "" {
		t.Fatalf("%s has no folder with 2 messages to mutate", mbx.Address)
	}
	// Another folder for the new message, so that two folders change.
	other := busy
	for _, f := range s.folders[mbx.ID] {
		if f.ID != busy {
			other = f.ID
			break
		}
	}
	toggled, deleted := perFolder[busy][0], perFolder[busy][1]
	s.h.SetRead(t, mbx, toggled.ID, !toggled.Flags.Seen)
	s.h.Delete(t, mbx, deleted.ID)
	added := s.h.Add(t, mbx, other)

	truth := s.h.Truth(t)
	s.truth = truth
	var newTruth MessageTruth
	for _, m := range s.truthOf(mbx.ID).Messages {
		if m.ID == added {
			newTruth = m
		}
	}
	if newTruth.ID == "" {
		t.Fatalf("Add returned %q, which the truth does not have", added)
	}

	got := map[string][]extract.Change{}
	for _, box := range s.boxes {
		for _, f := range s.folders[box.ID] {
			k := folderKey{box.ID, f.ID}
			ups, dels, final := s.pass(t, box, f, s.cursors[k])
			s.cursors[k] = final
			for _, m := range ups {
				got[f.ID] = append(got[f.ID], extract.Change{Kind: extract.Upsert, Message: m})
			}
			for _, m := range dels {
				got[f.ID] = append(got[f.ID], extract.Change{Kind: extract.Delete, Message: m})
			}
		}
	}
	expect := func(folder string, kind extract.ChangeKind, id string) {
		t.Helper()
		for i, c := range got[folder] {
			if c.Kind == kind && c.Message.ID == id {
				got[folder] = slices.Delete(got[folder], i, i+1)
				if kind == extract.Upsert && id == toggled.ID && c.Message.Flags.Seen == toggled.Flags.Seen {
					t.Errorf("message %s: Seen = %v after SetRead(%v)", id, c.Message.Flags.Seen, !toggled.Flags.Seen)
				}
				return
			}
		}
		t.Errorf("folder %s: no %v of %s in the delta", folder, kindName(kind), id)
	}
	expect(busy, extract.Upsert, toggled.ID)
	expect(busy, extract.Delete, deleted.ID)
	expect(other, extract.Upsert, added)
	for folder, cs := range got {
		for _, c := range cs {
			t.Errorf("folder %s: unexpected %s of %s", folder, kindName(c.Kind), c.Message.ID)
		}
	}
	sum, n, err := hashOpen(s.ctx, s.h.Source, mbx, added)
	if err != nil || sum != newTruth.SHA256 || n != newTruth.Size {
		t.Errorf("Open(added %s) = %d bytes, %s, %v; want %d bytes, %s", added, n, sum, err, newTruth.Size, newTruth.SHA256)
	}
}

func kindName(k extract.ChangeKind) string {
	switch k {
	case extract.Upsert:
		return "Upsert"
	case extract.Delete:
		return "Delete"
	case extract.Checkpoint:
		return "Checkpoint"
	}
	return fmt.Sprintf("kind %d", k)
}

func (s *suite) testExpired(t *testing.T) {
	s.h.ExpireCursors(t)
	mbx := s.boxes[0]
	f := s.folders[mbx.ID][0]
	cursor := s.cursors[folderKey{mbx.ID, f.ID}]
	n := 0
	for c, err := range s.h.Source.Changes(s.ctx, mbx, f, cursor) {
		n++
		if n == 1 {
			if !errors.Is(err, model.ErrCursorExpired) {
				t.Errorf("Changes(expired cursor) first element = %+v, %v; want an error wrapping model.ErrCursorExpired", c, err)
			}
			continue
		}
		t.Errorf("Changes(expired cursor) went on after the error: %+v, %v", c, err)
	}
	if n == 0 {
		t.Error("Changes(expired cursor) yielded nothing")
	}
	// Starting again from "" works.
	ups, _, _ := s.pass(t, mbx, f, "")
	want := 0
	for _, m := range s.truthOf(mbx.ID).Messages {
		if m.FolderID == f.ID {
			want++
		}
	}
	if len(ups) != want {
		t.Errorf("a fresh pass after expiry yielded %d messages, want %d", len(ups), want)
	}
}
