package imap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// writer is one account's session. APPENDs from many goroutines share the connection and are
// pipelined; work that depends on the selected mailbox is serialised by selMu.
type writer struct {
	s       *Sink
	account string

	mu     sync.Mutex
	c      *imapclient.Client
	broken bool

	pmu    sync.Mutex
	pipes  []*pipe // up to Config.AppendConnections APPEND connections
	noPipe bool    // the server offers no LITERAL+: APPEND through go-imap

	selMu sync.Mutex

	fmu      sync.Mutex
	listed   bool
	sep      string
	existing map[string][]imap.MailboxAttr // mailbox name → attributes
	byID     map[string]string             // source folder id → target name
	refs     map[string]load.FolderRef     // target name → ref

	idMu   sync.Mutex
	server string // "cyrus", "other", or "" before ID was asked (acl.go)
}

var _ load.MailboxWriter = (*writer)(nil)

// client returns the live connection, reconnecting if the last one broke.
func (w *writer) client(ctx context.Context) (*imapclient.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c != nil && !w.broken {
		return w.c, nil
	}
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := &w.s.cfg
	opts := &imapclient.Options{TLSConfig: w.s.tls}
	var c *imapclient.Client
	var err error
	switch cfg.TLS {
	case "tls":
		c, err = imapclient.DialTLS(cfg.Addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(cfg.Addr, opts)
	default:
		c, err = imapclient.DialInsecure(cfg.Addr, opts)
	}
	if err != nil {
		return nil, model.Retryable(fmt.Errorf("connecting to %s: %w", cfg.Addr, err))
	}
	switch cfg.Auth {
	case "master":
		err = c.Login(w.account+cfg.MasterSeparator+cfg.AdminUser, cfg.AdminPassword).Wait()
	case "authzid":
		err = c.Authenticate(sasl.NewPlainClient(w.account, cfg.AdminUser, cfg.AdminPassword))
	default:
		pw, ok := cfg.Passwords[w.account]
		if !ok {
			c.Close()
			return nil, model.Permanent(fmt.Errorf("no password for target account %q (add it to the mapping file, or use an admin login)", w.account))
		}
		err = c.Login(w.account, pw).Wait()
	}
	if err != nil {
		c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, model.Permanent(fmt.Errorf("login to %s as %q refused: %s", cfg.Addr, w.account, ie.Text))
		}
		return nil, model.Retryable(fmt.Errorf("login to %s: %w", cfg.Addr, err))
	}
	w.c, w.broken = c, false
	return c, nil
}

// watch closes c if ctx ends before the returned stop is called, so that a command waiting
// on a server that stopped answering returns (retryable) and the next call reconnects.
func (w *writer) watch(ctx context.Context, c *imapclient.Client) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		w.mu.Lock()
		if w.c == c {
			w.broken = true
		}
		w.mu.Unlock()
		c.Close()
	})
}

// classify turns a command error into a classified one; a connection-level failure marks the
// connection broken so that the next call reconnects.
func (w *writer) classify(c *imapclient.Client, err error, what string) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return model.Permanent(fmt.Errorf("%s: the server said: %s", what, strings.TrimSpace(ie.Text)))
	}
	w.mu.Lock()
	if w.c == c {
		w.broken = true
	}
	w.mu.Unlock()
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return model.Retryable(fmt.Errorf("%s: connection lost: %w", what, err))
	}
	return model.Retryable(fmt.Errorf("%s: %w", what, err))
}

// list reads the account's folders once.
func (w *writer) list(ctx context.Context) error {
	if w.listed {
		return nil
	}
	c, err := w.client(ctx)
	if err != nil {
		return err
	}
	defer w.watch(ctx, c)()
	opts := &imap.ListOptions{}
	if c.Caps().Has(imap.CapSpecialUse) {
		opts.ReturnSpecialUse = true
	}
	boxes, err := c.List("", "*", opts).Collect()
	if err != nil {
		return w.classify(c, err, "LIST")
	}
	w.existing = map[string][]imap.MailboxAttr{}
	for _, b := range boxes {
		w.existing[b.Mailbox] = b.Attrs
	}
	// The hierarchy separator of the personal namespace: LIST "" "" (RFC 3501 §6.3.8).
	root, err := c.List("", "", nil).Collect()
	if err != nil {
		return w.classify(c, err, `LIST "" ""`)
	}
	w.sep = ""
	if len(root) > 0 && root[0].Delim != 0 {
		w.sep = string(root[0].Delim)
	}
	w.listed = true
	return nil
}

var specialUse = map[string]imap.MailboxAttr{
	model.WellKnownSentItems:    imap.MailboxAttrSent,
	model.WellKnownDrafts:       imap.MailboxAttrDrafts,
	model.WellKnownDeletedItems: imap.MailboxAttrTrash,
	model.WellKnownJunkEmail:    imap.MailboxAttrJunk,
	model.WellKnownArchive:      imap.MailboxAttrArchive,
}

// EnsureFolder creates f on the target if needed. Inbox is INBOX; other well-known folders
// reuse the target's folder of the same special use, else are created with the configured
// language's name (and their special use where the server allows it); a child goes under its
// parent's target folder. The hierarchy separator inside a display name is replaced by
// U+2215 (∕), which looks the same. Existing folders are reused.
func (w *writer) EnsureFolder(ctx context.Context, f model.Folder) (load.FolderRef, error) {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if err := w.list(ctx); err != nil {
		return load.FolderRef{}, err
	}
	name, use := w.targetName(f)
	if ref, ok := w.refs[name]; ok {
		w.byID[f.ID] = name
		return ref, nil
	}
	c, err := w.client(ctx)
	if err != nil {
		return load.FolderRef{}, err
	}
	defer w.watch(ctx, c)()
	if _, ok := w.existing[name]; !ok {
		if err := w.createParents(c, name); err != nil {
			return load.FolderRef{}, err
		}
		var opts *imap.CreateOptions
		if use != "" && c.Caps().Has(imap.CapCreateSpecialUse) {
			opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{use}}
		}
		err := c.Create(name, opts).Wait()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			err = nil
		}
		if err != nil {
			return load.FolderRef{}, w.classify(c, err, fmt.Sprintf("CREATE %q", name))
		}
		w.existing[name] = nil
		if use != "" {
			w.existing[name] = []imap.MailboxAttr{use}
		}
	}
	st, err := c.Status(name, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		return load.FolderRef{}, w.classify(c, err, fmt.Sprintf("STATUS %q", name))
	}
	ref := load.FolderRef{Name: name, UIDValidity: st.UIDValidity}
	w.refs[name] = ref
	w.byID[f.ID] = name
	return ref, nil
}

// createParents creates the missing ancestors of name, top first (the caller holds fmu).
func (w *writer) createParents(c *imapclient.Client, name string) error {
	if w.sep == "" {
		return nil
	}
	parts := strings.Split(name, w.sep)
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], w.sep)
		if _, ok := w.existing[parent]; ok || strings.EqualFold(parent, "INBOX") {
			continue
		}
		err := c.Create(parent, nil).Wait()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			err = nil
		}
		if err != nil {
			return w.classify(c, err, fmt.Sprintf("CREATE %q", parent))
		}
		w.existing[parent] = nil
	}
	return nil
}

// targetName decides the target mailbox name of f (the caller holds fmu).
func (w *writer) targetName(f model.Folder) (string, imap.MailboxAttr) {
	if f.WellKnown == model.WellKnownInbox {
		return "INBOX", ""
	}
	display := ""
	if len(f.Path) > 0 {
		display = f.Path[len(f.Path)-1]
	}
	parent, hasParent := w.byID[f.ParentID]
	if f.WellKnown != "" && !hasParent {
		use := specialUse[f.WellKnown]
		if use != "" {
			var found []string
			for name, attrs := range w.existing {
				if containsAttr(attrs, use) {
					found = append(found, name)
				}
			}
			if len(found) > 0 {
				sort.Strings(found) // several folders of the same use: always the same one
				return found[0], use
			}
		}
		n := w.s.cfg.FolderNames[f.WellKnown]
		if n == "" {
			n = folderNames[w.s.cfg.Language][f.WellKnown]
		}
		if n != "" {
			return n, use
		}
	}
	leaf := display
	if w.sep != "" {
		leaf = strings.ReplaceAll(display, w.sep, "∕")
	}
	if strings.TrimSpace(leaf) == "" {
		leaf = "_"
	}
	if hasParent {
		if w.sep == "" { // a flat server: the child's name shows its parent
			return parent + "∕" + leaf, ""
		}
		return parent + w.sep + leaf, ""
	}
	if strings.EqualFold(leaf, "INBOX") {
		leaf += "_" // a user folder named Inbox must not merge into the real INBOX
	}
	return leaf, ""
}

func imapFlags(f model.Flags) []imap.Flag {
	var fl []imap.Flag
	if f.Seen {
		fl = append(fl, imap.FlagSeen)
	}
	if f.Flagged {
		fl = append(fl, imap.FlagFlagged)
	}
	if f.Answered {
		fl = append(fl, imap.FlagAnswered)
	}
	if f.Draft {
		fl = append(fl, imap.FlagDraft)
	}
	for _, k := range strings.Fields(f.Keywords) {
		fl = append(fl, imap.Flag(k))
	}
	return fl
}

// Append writes one message, pipelined with the other Appends in flight on this connection.
// A NO from the server wraps model.ErrPermanent with the server's text; a connection failure
// wraps model.ErrRetryable (the message may or may not have landed: look it up before
// writing it again).
func (w *writer) Append(ctx context.Context, folder load.FolderRef, it load.Item) (load.ItemRef, error) {
	p, err := w.pipe(ctx)
	if err != nil {
		return load.ItemRef{}, err
	}
	if p == nil {
		return w.appendSlow(ctx, folder, it)
	}
	defer p.users.Add(-1)
	var flags []string
	for _, f := range imapFlags(it.Message.Flags) {
		flags = append(flags, string(f))
	}
	r, err := p.append(ctx, folder.Name, flags, it.Message.Received, it.Size, it.Body, it.Binary && p.binary)
	if err != nil {
		if errors.Is(err, model.ErrRetryable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return load.ItemRef{}, fmt.Errorf("APPEND to %q: %w", folder.Name, err)
		}
		return load.ItemRef{}, model.Retryable(fmt.Errorf("APPEND to %q: %w", folder.Name, err))
	}
	if !r.ok {
		text := r.text
		if i := strings.IndexByte(text, ' '); i >= 0 {
			text = text[i+1:]
		}
		return load.ItemRef{}, model.Permanent(fmt.Errorf("APPEND to %q: the server said: %s", folder.Name, text))
	}
	ref := load.ItemRef{Folder: folder, UID: r.uid}
	if r.uidValidity != 0 {
		ref.Folder.UIDValidity = r.uidValidity
	}
	return ref, nil
}

// pipe returns the least busy APPEND connection, dialling another (up to
// Config.AppendConnections) when every one has an APPEND in flight; nil when the server has
// no LITERAL+ (then go-imap carries the APPENDs). The caller counts itself in p.users and
// must decrement it when its APPEND is answered. Several connections matter because a
// server such as Dovecot handles one connection's commands one after the other on one core.
func (w *writer) pipe(ctx context.Context) (*pipe, error) {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if w.noPipe {
		return nil, nil
	}
	live := w.pipes[:0]
	for _, p := range w.pipes {
		if !p.dead() {
			live = append(live, p)
		}
	}
	clear(w.pipes[len(live):])
	w.pipes = live
	var best *pipe
	for _, p := range w.pipes {
		if best == nil || p.users.Load() < best.users.Load() {
			best = p
		}
	}
	if best == nil || (best.users.Load() > 0 && len(w.pipes) < w.s.cfg.AppendConnections) {
		p, err := dialPipe(ctx, w.s, w.account)
		switch {
		case errors.Is(err, errNoLiteralPlus):
			w.noPipe = true
			return nil, nil
		case err != nil && best == nil:
			return nil, err
		case err == nil:
			w.pipes = append(w.pipes, p)
			best = p
		}
		// A failed extra connection: keep using the ones there are.
	}
	best.users.Add(1)
	return best, nil
}

// appendSlow appends through go-imap (servers without LITERAL+).
func (w *writer) appendSlow(ctx context.Context, folder load.FolderRef, it load.Item) (load.ItemRef, error) {
	c, err := w.client(ctx)
	if err != nil {
		return load.ItemRef{}, err
	}
	defer w.watch(ctx, c)()
	opts := &imap.AppendOptions{Flags: imapFlags(it.Message.Flags)}
	if !it.Message.Received.IsZero() {
		opts.Time = it.Message.Received
	}
	cmd := c.Append(folder.Name, it.Size, opts)
	n, werr := io.Copy(cmd, it.Body)
	cerr := cmd.Close()
	if werr == nil && n != it.Size {
		werr = fmt.Errorf("body is %d bytes, announced %d", n, it.Size)
	}
	if werr != nil {
		// The literal is incomplete: the connection cannot be trusted any more.
		w.mu.Lock()
		if w.c == c {
			w.broken = true
		}
		w.mu.Unlock()
		var ie *imap.Error
		if errors.As(werr, &ie) { // refused before the literal was sent (e.g. over the size limit)
			return load.ItemRef{}, model.Permanent(fmt.Errorf("APPEND to %q: the server said: %s", folder.Name, strings.TrimSpace(ie.Text)))
		}
		return load.ItemRef{}, model.Retryable(fmt.Errorf("APPEND to %q: writing the message: %w", folder.Name, werr))
	}
	if cerr != nil {
		return load.ItemRef{}, w.classify(c, cerr, fmt.Sprintf("APPEND to %q", folder.Name))
	}
	data, err := cmd.Wait()
	if err != nil {
		return load.ItemRef{}, w.classify(c, err, fmt.Sprintf("APPEND to %q", folder.Name))
	}
	ref := load.ItemRef{Folder: folder}
	if data != nil {
		ref.UID = uint32(data.UID)
		if data.UIDValidity != 0 {
			ref.Folder.UIDValidity = data.UIDValidity
		}
	}
	return ref, nil
}

// selectFolder selects name (the caller holds selMu) and returns its UIDVALIDITY.
func (w *writer) selectFolder(ctx context.Context, c *imapclient.Client, name string) (uint32, error) {
	sel, err := c.Select(name, nil).Wait()
	if err != nil {
		return 0, w.classify(c, err, fmt.Sprintf("SELECT %q", name))
	}
	return sel.UIDValidity, nil
}

// Lookup finds a message in folder with exactly this size and SHA-256 among the UIDs not in
// exclude: UID SEARCH by size (and Message-ID when known), then the candidates' bytes are
// hashed. None → model.ErrNotFound.
func (w *writer) Lookup(ctx context.Context, folder load.FolderRef, msg model.Message, size int64, sha string, exclude map[uint32]bool) (load.ItemRef, error) {
	w.selMu.Lock()
	defer w.selMu.Unlock()
	c, err := w.client(ctx)
	if err != nil {
		return load.ItemRef{}, err
	}
	defer w.watch(ctx, c)()
	uv, err := w.selectFolder(ctx, c, folder.Name)
	if err != nil {
		return load.ItemRef{}, err
	}
	// Candidates by size (RFC822.SIZE is the byte count of a CRLF message), narrowed by
	// Message-ID when known; if the header search finds nothing (a Message-ID written
	// differently in the header), size alone: the SHA-256 decides anyway.
	search := func(messageID string) (imap.UIDSet, error) {
		crit := &imap.SearchCriteria{Larger: size - 1, Smaller: size + 1}
		if messageID != "" {
			crit.Header = []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: messageID}}
		}
		data, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			return nil, w.classify(c, err, "UID SEARCH")
		}
		var cands imap.UIDSet
		for _, uid := range data.AllUIDs() {
			if !exclude[uint32(uid)] {
				cands.AddNum(uid)
			}
		}
		return cands, nil
	}
	cands, err := search(msg.MessageID)
	if err == nil && len(cands) == 0 && msg.MessageID != "" {
		cands, err = search("")
	}
	if err != nil {
		return load.ItemRef{}, err
	}
	if len(cands) == 0 {
		return load.ItemRef{}, fmt.Errorf("lookup in %q: %w", folder.Name, model.ErrNotFound)
	}
	fetch := c.Fetch(cands, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	var found uint32
	for {
		m := fetch.Next()
		if m == nil {
			break
		}
		var uid uint32
		var sum string
		for {
			item := m.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(it.UID)
			case imapclient.FetchItemDataBodySection:
				h := sha256.New()
				if _, err := io.Copy(h, it.Literal); err != nil {
					fetch.Close()
					return load.ItemRef{}, w.classify(c, err, "UID FETCH")
				}
				sum = hex.EncodeToString(h.Sum(nil))
			}
		}
		if found == 0 && sum == sha && uid != 0 && !exclude[uid] {
			found = uid
		}
	}
	if err := fetch.Close(); err != nil {
		return load.ItemRef{}, w.classify(c, err, "UID FETCH")
	}
	if found == 0 {
		return load.ItemRef{}, fmt.Errorf("lookup in %q: %w", folder.Name, model.ErrNotFound)
	}
	return load.ItemRef{Folder: load.FolderRef{Name: folder.Name, UIDValidity: uv}, UID: found}, nil
}

// SetFlags sets the four managed system flags of one message to those of to, adds to's
// keywords and removes from's keywords that to lacks, leaving any other flag or keyword
// alone. A message that is not there (or a folder recreated since) wraps model.ErrNotFound.
func (w *writer) SetFlags(ctx context.Context, ref load.ItemRef, from, flags model.Flags) error {
	w.selMu.Lock()
	defer w.selMu.Unlock()
	c, err := w.client(ctx)
	if err != nil {
		return err
	}
	defer w.watch(ctx, c)()
	uv, err := w.selectFolder(ctx, c, ref.Folder.Name)
	if err != nil {
		return err
	}
	if ref.UID == 0 || (ref.Folder.UIDValidity != 0 && uv != ref.Folder.UIDValidity) {
		return fmt.Errorf("message %d in %q: %w", ref.UID, ref.Folder.Name, model.ErrNotFound)
	}
	set := imapFlags(flags)
	var unset []imap.Flag
	all := imapFlags(model.Flags{Seen: true, Flagged: true, Answered: true, Draft: true, Keywords: from.Keywords})
	for _, f := range all {
		if !containsFlag(set, f) {
			unset = append(unset, f)
		}
	}
	uids := imap.UIDSetNum(imap.UID(ref.UID))
	seen := false
	for _, op := range []struct {
		op    imap.StoreFlagsOp
		flags []imap.Flag
	}{{imap.StoreFlagsAdd, set}, {imap.StoreFlagsDel, unset}} {
		if len(op.flags) == 0 {
			continue
		}
		msgs, err := c.Store(uids, &imap.StoreFlags{Op: op.op, Flags: op.flags}, nil).Collect()
		if err != nil {
			return w.classify(c, err, "UID STORE")
		}
		if len(msgs) > 0 {
			seen = true
		}
	}
	if !seen {
		return fmt.Errorf("message %d in %q: %w", ref.UID, ref.Folder.Name, model.ErrNotFound)
	}
	return nil
}

// Delete removes one message with UID STORE \Deleted and UID EXPUNGE (never a plain EXPUNGE,
// which would also remove what others marked). On a server without UIDPLUS the message is
// only marked \Deleted (a warning is logged). A vanished message is not an error; a refusal
// wraps model.ErrPermanent, connection trouble model.ErrRetryable.
func (w *writer) Delete(ctx context.Context, ref load.ItemRef) error {
	w.selMu.Lock()
	defer w.selMu.Unlock()
	c, err := w.client(ctx)
	if err != nil {
		return err
	}
	defer w.watch(ctx, c)()
	uidplus := c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2)
	uv, err := w.selectFolder(ctx, c, ref.Folder.Name)
	if err != nil {
		return err
	}
	if ref.UID == 0 || (ref.Folder.UIDValidity != 0 && uv != ref.Folder.UIDValidity) {
		return nil
	}
	uids := imap.UIDSetNum(imap.UID(ref.UID))
	if err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return w.classify(c, err, "UID STORE \\Deleted")
	}
	if !uidplus {
		// Without UIDPLUS only a plain EXPUNGE exists, which would also remove what the
		// account's owner marked \Deleted: the message stays marked, clients hide it.
		w.s.cfg.Logger.Warn("the target has no UIDPLUS: message marked \\Deleted, not expunged", "folder", ref.Folder.Name, "uid", ref.UID)
		return nil
	}
	if err := c.UIDExpunge(uids).Close(); err != nil {
		return w.classify(c, err, "UID EXPUNGE")
	}
	return nil
}

// Close logs out.
func (w *writer) Close() error {
	w.pmu.Lock()
	for _, p := range w.pipes {
		p.close(errors.New("closed"))
	}
	w.pipes = nil
	w.pmu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c == nil {
		return nil
	}
	_ = w.c.Logout().Wait()
	err := w.c.Close()
	w.c = nil
	return err
}

func containsAttr(l []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range l {
		if x == a {
			return true
		}
	}
	return false
}

func containsFlag(l []imap.Flag, f imap.Flag) bool {
	for _, x := range l {
		if x == f {
			return true
		}
	}
	return false
}
