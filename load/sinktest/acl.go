package sinktest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// ACLHarness tells the ACL suite how to reach a server with three accounts: the owner, who
// grants; the delegate, who receives rights; and a bystander, who receives none.
type ACLHarness struct {
	// Open opens a writer on account (owner, delegate or bystander); it must implement
	// load.ACLWriter.
	Open func(t *testing.T, account string) load.MailboxWriter
	// Login returns a client logged in as account with the account's own password (the
	// delegate's view, independent of the sink).
	Login func(t *testing.T, account string) *imapclient.Client
	// Owner, Delegate, Bystander are target logins.
	Owner, Delegate, Bystander string
	// SharedName is how another user names owner's folder: Dovecot "shared/<owner>/<folder>",
	// Cyrus "Other Users/<owner>/<folder>".
	SharedName func(owner, folder string) string
	// MyRights is how the sink's own session reports MYRIGHTS (nil: not checked).
	MyRights func(ctx context.Context, w load.MailboxWriter, folder string) (string, error)
}

// RunACL runs the ACL suite: rights set, read back, and then honoured — the delegate logs in
// with its own password and may do exactly what its rights say on the owner's folders.
func RunACL(t *testing.T, h ACLHarness) {
	t.Run("SetAndRead", func(t *testing.T) { testACLSetRead(t, h) })
	t.Run("Behaviour", func(t *testing.T) { testACLBehaviour(t, h) })
	t.Run("Special", func(t *testing.T) { testACLSpecial(t, h) })
	t.Run("Errors", func(t *testing.T) { testACLErrors(t, h) })
}

func aclWriter(t *testing.T, h ACLHarness, account string) (load.MailboxWriter, load.ACLWriter) {
	t.Helper()
	w := h.Open(t, account)
	t.Cleanup(func() { w.Close() })
	a, ok := w.(load.ACLWriter)
	if !ok {
		t.Fatalf("the writer of %s does not implement load.ACLWriter", account)
	}
	return w, a
}

// sameRights compares RFC 4314 right strings as sets, ignoring the obsolete "c" and "d"
// that servers add to what they report.
func sameRights(a, b string) bool {
	canon := func(s string) string {
		var set [128]bool
		for _, r := range s {
			if r < 128 && r != 'c' && r != 'd' {
				set[r] = true
			}
		}
		var out []byte
		for i, ok := range set {
			if ok {
				out = append(out, byte(i))
			}
		}
		return string(out)
	}
	return canon(a) == canon(b)
}

func ensureWithMessage(t *testing.T, w load.MailboxWriter, id, name string) load.FolderRef {
	t.Helper()
	ctx := context.Background()
	ref, err := w.EnsureFolder(ctx, folder(id, "root", "", name))
	if err != nil {
		t.Fatalf("EnsureFolder(%q) = %v", name, err)
	}
	body := []byte("From: owner@example.org\r\nSubject: in " + name + "\r\n\r\nhello\r\n")
	if _, err := w.Append(ctx, ref, item(id+"-m", body, model.Flags{}, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC), "")); err != nil {
		t.Fatalf("Append into %q = %v", name, err)
	}
	return ref
}

func testACLSetRead(t *testing.T, h ACLHarness) {
	ctx := context.Background()
	w, a := aclWriter(t, h, h.Owner)
	ref := ensureWithMessage(t, w, "acl-sr", "ACL Projets Été")
	for _, rights := range []string{"lrs", "lrswipte", "lrswipkxtea"} {
		if err := a.SetACL(ctx, ref.Name, h.Delegate, rights); err != nil {
			t.Fatalf("SetACL(%q, %s, %q) = %v", ref.Name, h.Delegate, rights, err)
		}
		acl, err := a.ACL(ctx, ref.Name)
		if err != nil {
			t.Fatalf("ACL(%q) = %v", ref.Name, err)
		}
		if !sameRights(acl[h.Delegate], rights) {
			t.Errorf("after SetACL %q, GETACL gives %s %q (whole ACL %v)", rights, h.Delegate, acl[h.Delegate], acl)
		}
		if _, ok := acl[h.Bystander]; ok {
			t.Errorf("GETACL lists %s, who was given nothing: %v", h.Bystander, acl)
		}
	}
	// Replace, not add: fewer rights after more.
	if err := a.SetACL(ctx, ref.Name, h.Delegate, "lr"); err != nil {
		t.Fatal(err)
	}
	acl, err := a.ACL(ctx, ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRights(acl[h.Delegate], "lr") {
		t.Errorf("SetACL lr after lrswipkxtea: GETACL gives %q, want lr", acl[h.Delegate])
	}
	// Empty rights remove the entry.
	if err := a.SetACL(ctx, ref.Name, h.Delegate, ""); err != nil {
		t.Fatalf("SetACL(empty) = %v", err)
	}
	acl, err = a.ACL(ctx, ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := acl[h.Delegate]; ok {
		t.Errorf("after SetACL with empty rights, GETACL still lists %s %q", h.Delegate, r)
	}

	// Folders lists the account's own folders (the one above included) and not what others
	// share with it.
	folders, err := a.Folders(ctx)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	if !contains(folders, ref.Name) || !contains(folders, "INBOX") {
		t.Errorf("Folders() = %q, want %q and INBOX among them", folders, ref.Name)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// delegateTry is what the delegate attempts on one of the owner's folders.
type delegateTry struct {
	selectOK, fetchOK, appendOK, storeOK, expungeOK bool
}

func testACLBehaviour(t *testing.T, h ACLHarness) {
	ctx := context.Background()
	w, a := aclWriter(t, h, h.Owner)
	read := ensureWithMessage(t, w, "acl-read", "ACL Lecture")
	write := ensureWithMessage(t, w, "acl-write", "ACL Écriture")
	private := ensureWithMessage(t, w, "acl-priv", "ACL Privé")
	if err := a.SetACL(ctx, read.Name, h.Delegate, "lrs"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetACL(ctx, write.Name, h.Delegate, "lrswipte"); err != nil {
		t.Fatal(err)
	}

	// The delegate sees the shared folders under the other-users namespace, and not the
	// private one.
	dc := h.Login(t, h.Delegate)
	defer dc.Close()
	boxes, err := dc.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST as %s = %v", h.Delegate, err)
	}
	listed := map[string]bool{}
	for _, b := range boxes {
		listed[b.Mailbox] = true
	}
	for _, f := range []string{read.Name, write.Name} {
		if n := h.SharedName(h.Owner, f); !listed[n] {
			t.Errorf("%s does not see %q in LIST (got %v)", h.Delegate, n, keys(listed))
		}
	}
	if n := h.SharedName(h.Owner, private.Name); listed[n] {
		t.Errorf("%s sees the private folder %q", h.Delegate, n)
	}
	// The delegate's writer does not count the owner's folders as its own.
	_, da := aclWriter(t, h, h.Delegate)
	own, err := da.Folders(ctx)
	if err != nil {
		t.Fatalf("Folders() of %s = %v", h.Delegate, err)
	}
	for _, f := range own {
		if strings.Contains(f, h.Owner) {
			t.Errorf("Folders() of %s lists %q, which belongs to %s", h.Delegate, f, h.Owner)
		}
	}

	check := func(name string, want delegateTry) {
		t.Helper()
		shared := h.SharedName(h.Owner, name)
		got := try(t, dc, shared)
		if got != want {
			t.Errorf("%s on %q: got %+v, want %+v", h.Delegate, shared, got, want)
		}
	}
	check(read.Name, delegateTry{selectOK: true, fetchOK: true})
	check(write.Name, delegateTry{selectOK: true, fetchOK: true, appendOK: true, storeOK: true, expungeOK: true})
	check(private.Name, delegateTry{})

	// MYRIGHTS, as the delegate, agrees with what was granted.
	for name, want := range map[string]string{read.Name: "lrs", write.Name: "lrswipte"} {
		shared := h.SharedName(h.Owner, name)
		mr, err := dc.MyRights(shared).Wait()
		if err != nil {
			t.Errorf("MYRIGHTS %q as %s = %v", shared, h.Delegate, err)
		} else if !sameRights(string(mr.Rights), want) {
			t.Errorf("MYRIGHTS %q as %s = %q, want %q", shared, h.Delegate, mr.Rights, want)
		}
	}

	// The owner's view is unchanged by the delegate's attempts on the read-only folder, and
	// shows what the delegate did in the writable one.
	oc := h.Login(t, h.Owner)
	defer oc.Close()
	if n, flagged := count(t, oc, read.Name); n != 1 || flagged != 0 {
		t.Errorf("owner's %q holds %d messages (%d flagged) after the delegate's refused writes, want 1 (0)", read.Name, n, flagged)
	}
	if n, flagged := count(t, oc, write.Name); n != 1 || flagged != 1 {
		t.Errorf("owner's %q holds %d messages (%d flagged), want 1 (1): the delegate appended and flagged one, and expunged the original", write.Name, n, flagged)
	}

	// The bystander sees and touches nothing.
	bc := h.Login(t, h.Bystander)
	defer bc.Close()
	for _, name := range []string{read.Name, write.Name, private.Name} {
		if got := try(t, bc, h.SharedName(h.Owner, name)); got != (delegateTry{}) {
			t.Errorf("%s on %q: got %+v, want nothing allowed", h.Bystander, name, got)
		}
	}

	// Revoking takes effect.
	if err := a.SetACL(ctx, read.Name, h.Delegate, ""); err != nil {
		t.Fatal(err)
	}
	dc2 := h.Login(t, h.Delegate)
	defer dc2.Close()
	if got := try(t, dc2, h.SharedName(h.Owner, read.Name)); got.selectOK {
		t.Errorf("%s can still SELECT %q after its rights were removed", h.Delegate, read.Name)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// try attempts, as c's user, SELECT, FETCH, APPEND, STORE \Flagged and STORE \Deleted +
// EXPUNGE on mailbox, and says which the server allowed (an effect that did not happen counts
// as refused, since some servers silently drop flags the user may not set).
func try(t *testing.T, c *imapclient.Client, mailbox string) delegateTry {
	t.Helper()
	var r delegateTry
	body := []byte("From: delegate@example.org\r\nSubject: by the delegate\r\n\r\nhi\r\n")
	cmd := c.Append(mailbox, int64(len(body)), nil)
	_, werr := cmd.Write(body)
	cerr := cmd.Close()
	if _, err := cmd.Wait(); err == nil && werr == nil && cerr == nil {
		r.appendOK = true
	}
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return r
	}
	r.selectOK = true
	defer func() { c.Unselect().Wait() }()
	if sel.NumMessages == 0 {
		return r
	}
	first := imap.SeqSetNum(1)
	msgs, err := c.Fetch(first, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err == nil && len(msgs) == 1 && len(msgs[0].BodySection) > 0 {
		for _, b := range msgs[0].BodySection {
			r.fetchOK = len(b.Bytes) > 0
		}
	}
	// The last message: the delegate's own when its APPEND was allowed.
	last := imap.SeqSetNum(sel.NumMessages)
	if err := c.Store(last, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		if got, err := c.Fetch(last, &imap.FetchOptions{Flags: true}).Collect(); err == nil && len(got) == 1 && hasFlag(got[0].Flags, imap.FlagFlagged) {
			r.storeOK = true
		}
	}
	// Expunge the first (the owner's) message.
	if err := c.Store(first, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err == nil {
		if err := c.Expunge().Close(); err == nil {
			if st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil && st.NumMessages != nil && *st.NumMessages < sel.NumMessages {
				r.expungeOK = true
			} else if err != nil {
				// Some servers refuse STATUS on the selected mailbox: count with a NOOP-free SEARCH.
				if data, err := c.Search(&imap.SearchCriteria{}, nil).Wait(); err == nil && uint32(len(data.AllSeqNums())) < sel.NumMessages {
					r.expungeOK = true
				}
			}
		}
	}
	return r
}

func hasFlag(l []imap.Flag, f imap.Flag) bool {
	for _, x := range l {
		if x == f {
			return true
		}
	}
	return false
}

// count returns how many messages mailbox holds and how many are \Flagged.
func count(t *testing.T, c *imapclient.Client, mailbox string) (n, flagged int) {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE %q = %v", mailbox, err)
	}
	defer func() { c.Unselect().Wait() }()
	if sel.NumMessages == 0 {
		return 0, 0
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH FLAGS in %q = %v", mailbox, err)
	}
	for _, m := range msgs {
		if hasFlag(m.Flags, imap.FlagFlagged) {
			flagged++
		}
	}
	return len(msgs), flagged
}

func testACLSpecial(t *testing.T, h ACLHarness) {
	ctx := context.Background()
	w, a := aclWriter(t, h, h.Owner)
	pub := ensureWithMessage(t, w, "acl-pub", "ACL Public")
	auth := ensureWithMessage(t, w, "acl-auth", "ACL Authenticated")
	if err := a.SetACL(ctx, pub.Name, "anyone", "lr"); err != nil {
		t.Fatalf("SetACL(anyone) = %v", err)
	}
	if err := a.SetACL(ctx, auth.Name, "authenticated", "lr"); err != nil {
		t.Fatalf("SetACL(authenticated) = %v", err)
	}
	acl, err := a.ACL(ctx, pub.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRights(acl["anyone"], "lr") {
		t.Errorf("GETACL %q = %v, want anyone lr", pub.Name, acl)
	}
	acl, err = a.ACL(ctx, auth.Name)
	if err != nil {
		t.Fatal(err)
	}
	// Servers without "authenticated" (Cyrus) get "anyone".
	if !sameRights(acl["authenticated"], "lr") && !sameRights(acl["anyone"], "lr") {
		t.Errorf("GETACL %q = %v, want authenticated (or anyone) lr", auth.Name, acl)
	}
	// Every other account may read both, and only read.
	bc := h.Login(t, h.Bystander)
	defer bc.Close()
	for _, name := range []string{pub.Name, auth.Name} {
		got := try(t, bc, h.SharedName(h.Owner, name))
		if want := (delegateTry{selectOK: true, fetchOK: true}); got != want {
			t.Errorf("%s on %q: got %+v, want %+v", h.Bystander, name, got, want)
		}
	}
	// Dovecot's ACL-file syntax "user=<login>" is taken for the login.
	if err := a.SetACL(ctx, pub.Name, "user="+h.Delegate, "lrw"); err != nil {
		t.Fatalf(`SetACL("user=%s") = %v`, h.Delegate, err)
	}
	if acl, err := a.ACL(ctx, pub.Name); err != nil || !sameRights(acl[h.Delegate], "lrw") {
		t.Errorf(`after SetACL("user=%s", lrw), GETACL = %v, %v`, h.Delegate, acl, err)
	}
}

func testACLErrors(t *testing.T, h ACLHarness) {
	ctx := context.Background()
	w, a := aclWriter(t, h, h.Owner)
	err := a.SetACL(ctx, "No Such Folder ACL", h.Delegate, "lr")
	if !errors.Is(err, model.ErrNotFound) || !errors.Is(err, model.ErrPermanent) {
		t.Errorf("SetACL on a missing folder = %v, want ErrNotFound and ErrPermanent", err)
	}
	if _, err := a.ACL(ctx, "No Such Folder ACL"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("ACL of a missing folder = %v, want ErrNotFound", err)
	}
	ref := ensureWithMessage(t, w, "acl-err", "ACL Errors")
	err = a.SetACL(ctx, ref.Name, h.Delegate, "lr€")
	if err == nil || !errors.Is(err, model.ErrPermanent) {
		t.Errorf("SetACL with an unknown right = %v, want a permanent error", err)
	}
	// The session still works after the refusals.
	if _, err := a.ACL(ctx, ref.Name); err != nil {
		t.Errorf("ACL after refusals = %v", err)
	}
	if h.MyRights != nil {
		mr, err := h.MyRights(ctx, w, ref.Name)
		if err != nil || !strings.ContainsRune(mr, 'a') {
			t.Errorf("MyRights of the owner on its own folder = %q, %v; want the administer right", mr, err)
		}
	}
}
