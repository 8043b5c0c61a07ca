// Package tenant is a deterministic, generated Microsoft 365 tenant: users, a shared mailbox,
// localized and hostile folder trees, and realistic (sometimes malformed) RFC 5322 messages.
// It is the one model behind every protocol face of the emulators (sim/graph, sim/ews).
//
// Everything is derived from Config.Seed: the same Config generates the same ids, folders and
// byte-identical messages. Message bodies are not kept in memory; they are rendered again, from
// their seed, each time MIME is called. Mutations (SetRead, AddMessage, DeleteMessage...) record
// each change at a new position of a tenant-wide change log, which delta queries read.
//
// A Tenant is safe for concurrent use.
package tenant

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Config sizes a generated tenant.
type Config struct {
	Seed          int64
	Users         int   // regular user mailboxes (>=2); one shared mailbox is always added
	Messages      int   // total messages across all mailboxes, spread unevenly
	LargeMessages int   // messages carrying one 20–30 MB attachment (default 0)
	MaxAttachment int64 // cap for ordinary attachments (default 2 MiB); they range from 1 KB up

	// Groupware: every mailbox always gets a fixed catalog of calendars, events, contacts and
	// tasks (see gwgen.go); these add generated filler items per mailbox.
	Events   int // extra events per mailbox (about one in five a weekly series)
	Contacts int // extra contacts per mailbox
	Tasks    int // extra To Do tasks per mailbox
}

// Small is the demo and test size: 2 users and the shared mailbox, about 150 messages, no
// large ones, the groupware catalog and a few filler events, contacts and tasks. It generates in well under a second.
func Small() Config {
	return Config{Seed: 1, Users: 2, Messages: 150, MaxAttachment: 2 << 20, Events: 12, Contacts: 8, Tasks: 6}
}

// User is one mailbox of the tenant.
type User struct {
	ID, UPN, Mail, DisplayName string
	Purpose                    string // "user" or "shared"
	Language                   string // "fr-FR" or "en-US"
}

// Folder is one mail folder. Top-level folders have ParentID set to the hidden root folder
// (well-known name msgfolderroot), which Folders does not list; see RootFolderID.
type Folder struct {
	ID, ParentID, DisplayName string
	WellKnown                 string // inbox, sentitems, drafts, deleteditems, junkemail, archive, outbox or ""
	Seq                       uint64 // position in the change log of the folder's last change
}

// Address is a mailbox address as Graph shows it (emailAddress{name,address}).
type Address struct{ Name, Address string }

// Message is the metadata of one live message.
type Message struct {
	ID, ChangeKey, FolderID, Subject, InternetMessageID string
	Received                                            time.Time
	IsRead, IsDraft                                     bool
	Flag                                                string // "notFlagged" | "flagged" | "complete"
	LastVerb                                            int    // PidTagLastVerbExecuted: 0 none, 102 reply, 103 reply all, 104 forward
	Size                                                int64
	SHA256                                              string // hex of the exact MIME bytes

	// Seq is the message's position in the change log (its last change).
	Seq uint64
	// Sent is the Date header's instant; Modified the time of the last change.
	Sent, Modified time.Time
	From           Address
	To             []Address
	Preview        string // bodyPreview
	HasAttachments bool
}

// Change is one entry of a folder's change log: a live message, or the removal (deletion or
// move out of the folder) of the message with ID.
type Change struct {
	Seq     uint64
	ID      string
	Removed bool
	Message Message // zero when Removed
}

// Tenant is a generated tenant. Use Generate to make one.
type Tenant struct {
	mu     sync.RWMutex
	cfg    Config
	id     string
	seq    uint64
	epoch  uint64
	boxes  []*mailbox
	byID   map[string]*mailbox
	byName map[string]*mailbox // lower-case UPN and mail
}

type mailbox struct {
	index   int
	user    User
	lang    string
	root    string
	folders []*Folder
	fByID   map[string]*Folder
	msgs    []*msg
	mByID   map[string]*msg
	tombs   map[string][]tomb // folder id → removals
	nextIdx int
	gw      *groupware
	set     *settings
}

type tomb struct {
	id  string
	seq uint64
}

type msg struct {
	Message
	spec *spec
}

// TenantID returns the tenant's GUID.
func (t *Tenant) TenantID() string { return t.id }

// Config returns the configuration the tenant was generated from, defaults applied.
func (t *Tenant) Config() Config { return t.cfg }

// Users returns every mailbox, regular users first, then the shared mailbox, in a stable order.
func (t *Tenant) Users() []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]User, len(t.boxes))
	for i, b := range t.boxes {
		out[i] = b.user
	}
	return out
}

// User finds a mailbox by id, UPN or mail address (case-insensitive); ok is false when there is none.
func (t *Tenant) User(idOrUPN string) (User, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(idOrUPN)
	if b == nil {
		return User{}, false
	}
	return b.user, true
}

func (t *Tenant) box(idOrUPN string) *mailbox {
	if b := t.byID[idOrUPN]; b != nil {
		return b
	}
	return t.byName[strings.ToLower(idOrUPN)]
}

func (t *Tenant) boxErr(userID string) (*mailbox, error) {
	b := t.box(userID)
	if b == nil {
		return nil, fmt.Errorf("tenant: mailbox %q: %w", userID, model.ErrNotFound)
	}
	return b, nil
}

// RootFolderID returns the id of the mailbox's hidden root folder (msgfolderroot), or "" when
// the mailbox does not exist.
func (t *Tenant) RootFolderID(userID string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if b := t.box(userID); b != nil {
		return b.root
	}
	return ""
}

// Folders returns the mailbox's folders, parents before children (the hidden root excluded);
// nil when the mailbox does not exist.
func (t *Tenant) Folders(userID string) []Folder {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]Folder, len(b.folders))
	for i, f := range b.folders {
		out[i] = *f
	}
	return out
}

// Folder finds a folder by id or well-known name (case-insensitive; "msgfolderroot" is the
// hidden root). It returns an error wrapping model.ErrNotFound when there is none.
func (t *Tenant) Folder(userID, idOrWellKnown string) (Folder, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return Folder{}, err
	}
	f := b.folder(idOrWellKnown)
	if f == nil {
		return Folder{}, fmt.Errorf("tenant: folder %q: %w", idOrWellKnown, model.ErrNotFound)
	}
	return *f, nil
}

func (b *mailbox) folder(idOrWellKnown string) *Folder {
	if f := b.fByID[idOrWellKnown]; f != nil {
		return f
	}
	wk := strings.ToLower(idOrWellKnown)
	for _, f := range b.fByID {
		if f.WellKnown != "" && f.WellKnown == wk {
			return f
		}
	}
	return nil
}

// Messages returns the mailbox's live messages in a stable order (creation order); nil when
// the mailbox does not exist.
func (t *Tenant) Messages(userID string) []Message {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]Message, len(b.msgs))
	for i, m := range b.msgs {
		out[i] = m.Message
	}
	return out
}

// Message returns one live message. It returns an error wrapping model.ErrNotFound when the
// mailbox or the message does not exist.
func (t *Tenant) Message(userID, msgID string) (Message, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return Message{}, err
	}
	return m.Message, nil
}

func (t *Tenant) msgErr(userID, msgID string) (*mailbox, *msg, error) {
	b, err := t.boxErr(userID)
	if err != nil {
		return nil, nil, err
	}
	m := b.mByID[msgID]
	if m == nil {
		return nil, nil, fmt.Errorf("tenant: message %q: %w", msgID, model.ErrNotFound)
	}
	return b, m, nil
}

// MIME streams the exact bytes of a message and returns their length. Bodies are rendered
// on the fly (large ones are never held in memory). It returns an error wrapping
// model.ErrNotFound when the mailbox or the message does not exist.
func (t *Tenant) MIME(userID, msgID string) (io.ReadCloser, int64, error) {
	t.mu.RLock()
	_, m, err := t.msgErr(userID, msgID)
	var sp *spec
	var size int64
	if err == nil {
		sp, size = m.spec, m.Size
	}
	t.mu.RUnlock()
	if err != nil {
		return nil, 0, err
	}
	if sp.raw != nil {
		return io.NopCloser(strings.NewReader(string(sp.raw))), size, nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sp.render(pw)) }()
	return pr, size, nil
}

// ChangeSeq returns the current position of the change log.
func (t *Tenant) ChangeSeq() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.seq
}

// DeltaEpoch returns the delta-token generation; ExpireDeltaTokens increments it, and tokens
// issued under an older epoch are expired.
func (t *Tenant) DeltaEpoch() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.epoch
}

// ExpireDeltaTokens makes every delta token issued so far invalid (Graph answers 410).
func (t *Tenant) ExpireDeltaTokens() {
	t.mu.Lock()
	t.epoch++
	t.mu.Unlock()
}

// FolderChanges returns, ordered by Seq, the changes of one folder with since < Seq <= until
// and Seq > after: live messages changed in that range and, when since > 0, removals. At most
// limit changes are returned (limit <= 0: all); more tells whether others follow. It returns an
// error wrapping model.ErrNotFound when the mailbox or folder does not exist.
func (t *Tenant) FolderChanges(userID, folderID string, since, until, after uint64, limit int) (changes []Change, more bool, err error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return nil, false, err
	}
	f := b.folder(folderID)
	if f == nil {
		return nil, false, fmt.Errorf("tenant: folder %q: %w", folderID, model.ErrNotFound)
	}
	lo := max(since, after)
	for _, m := range b.msgs {
		if m.FolderID == f.ID && m.Seq > lo && m.Seq <= until {
			changes = append(changes, Change{Seq: m.Seq, ID: m.ID, Message: m.Message})
		}
	}
	if since > 0 {
		for _, tb := range b.tombs[f.ID] {
			if tb.seq > lo && tb.seq <= until {
				changes = append(changes, Change{Seq: tb.seq, ID: tb.id, Removed: true})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Seq < changes[j].Seq })
	if limit > 0 && len(changes) > limit {
		return changes[:limit], true, nil
	}
	return changes, false, nil
}

// Stats returns the number of live messages and their total size in bytes.
func (t *Tenant) Stats() (messages int, bytes int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, b := range t.boxes {
		for _, m := range b.msgs {
			messages++
			bytes += m.Size
		}
	}
	return messages, bytes
}

// touch gives m a new change-log position and change key. Callers hold t.mu.
func (t *Tenant) touch(m *msg) {
	t.seq++
	m.Seq = t.seq
	m.ChangeKey = changeKey(t.seq)
	m.Modified = time.Now().UTC().Truncate(time.Second)
}

func changeKey(seq uint64) string {
	var b [12]byte
	copy(b[:4], []byte{0x09, 0, 0, 0})
	binary.BigEndian.PutUint64(b[4:], seq)
	return "CQAAABYAAAA" + base64.StdEncoding.EncodeToString(b[:])
}

// SetRead sets isRead. It returns an error wrapping model.ErrNotFound when the mailbox or the
// message does not exist.
func (t *Tenant) SetRead(userID, msgID string, read bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return err
	}
	m.IsRead = read
	t.touch(m)
	return nil
}

// SetFlag sets the follow-up flag ("notFlagged", "flagged" or "complete"). It returns an error
// wrapping model.ErrNotFound when the mailbox or the message does not exist, and a plain error
// for an unknown flag value.
func (t *Tenant) SetFlag(userID, msgID, flag string) error {
	switch flag {
	case "notFlagged", "flagged", "complete":
	default:
		return fmt.Errorf("tenant: unknown flag status %q", flag)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return err
	}
	m.Flag = flag
	t.touch(m)
	return nil
}

// SetLastVerb sets PidTagLastVerbExecuted (0, 102, 103 or 104). It returns an error wrapping
// model.ErrNotFound when the mailbox or the message does not exist.
func (t *Tenant) SetLastVerb(userID, msgID string, verb int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return err
	}
	m.LastVerb = verb
	t.touch(m)
	return nil
}

// resolveFolder finds folderID in b; a folder id of another mailbox of the tenant maps to the
// folder of b with the same well-known name or path. Callers hold t.mu.
func (t *Tenant) resolveFolder(b *mailbox, folderID string) (*Folder, error) {
	if f := b.folder(folderID); f != nil && f.ID != b.root {
		return f, nil
	}
	for _, ob := range t.boxes {
		of := ob.fByID[folderID]
		if of == nil || ob == b {
			continue
		}
		if of.WellKnown != "" {
			if f := b.folder(of.WellKnown); f != nil {
				return f, nil
			}
		}
		p := ob.path(of)
		for _, f := range b.folders {
			if b.path(f) == p {
				return f, nil
			}
		}
		return b.folder("inbox"), nil
	}
	return nil, fmt.Errorf("tenant: folder %q: %w", folderID, model.ErrNotFound)
}

func (b *mailbox) path(f *Folder) string {
	var parts []string
	for f != nil && f.ID != b.root {
		parts = append(parts, f.DisplayName)
		f = b.fByID[f.ParentID]
	}
	slices.Reverse(parts)
	return strings.Join(parts, "\x00")
}

// AddMessage delivers a new generated message to a folder and returns it. A folder id of
// another mailbox of the tenant stands for the folder with the same well-known name or path in
// this one (the inbox when there is none). It returns an error wrapping model.ErrNotFound when
// the mailbox or the folder does not exist.
func (t *Tenant) AddMessage(userID, folderID string) (Message, error) {
	t.mu.Lock()
	b, err := t.boxErr(userID)
	var f *Folder
	if err == nil {
		f, err = t.resolveFolder(b, folderID)
	}
	if err != nil {
		t.mu.Unlock()
		return Message{}, err
	}
	b.nextIdx++
	n := b.nextIdx
	g := newGen(t.cfg, t.id)
	sp, meta := g.newSpec(b, f, n, time.Now().UTC().Truncate(time.Second), false, -1)
	t.mu.Unlock()
	size, sum := hashSpec(sp)
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.insert(b, f, n, sp, meta, size, sum)
	return m.Message, nil
}

// AddRawMessage delivers the given bytes, kept exactly, to a folder with the given received
// time and returns the new message. Folder resolution and errors are as for AddMessage.
func (t *Tenant) AddRawMessage(userID, folderID string, raw []byte, received time.Time) (Message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return Message{}, err
	}
	f, err := t.resolveFolder(b, folderID)
	if err != nil {
		return Message{}, err
	}
	b.nextIdx++
	sp := &spec{raw: slices.Clone(raw)}
	meta := rawMeta(sp.raw, received.UTC())
	meta.IsDraft = f.WellKnown == "drafts"
	sum := sha256.Sum256(sp.raw)
	m := t.insert(b, f, b.nextIdx, sp, meta, int64(len(raw)), hex.EncodeToString(sum[:]))
	return m.Message, nil
}

// insert adds a message to a mailbox. Callers hold t.mu.
func (t *Tenant) insert(b *mailbox, f *Folder, n int, sp *spec, meta Message, size int64, sum string) *msg {
	meta.ID = itemID(t.cfg.Seed, b.index, "m", n)
	meta.FolderID = f.ID
	meta.Size = size
	meta.SHA256 = sum
	m := &msg{Message: meta, spec: sp}
	t.touch(m)
	b.msgs = append(b.msgs, m)
	b.mByID[m.ID] = m
	return m
}

// DeleteMessage removes a message for good; delta queries of its folder report it @removed.
// It returns an error wrapping model.ErrNotFound when the mailbox or the message does not exist.
func (t *Tenant) DeleteMessage(userID, msgID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return err
	}
	t.seq++
	b.tombs[m.FolderID] = append(b.tombs[m.FolderID], tomb{id: m.ID, seq: t.seq})
	delete(b.mByID, m.ID)
	b.msgs = slices.DeleteFunc(b.msgs, func(x *msg) bool { return x == m })
	return nil
}

// MoveMessage moves a message to another folder of its mailbox; its id does not change
// (immutable ids). It returns an error wrapping model.ErrNotFound when the mailbox, the message
// or the folder does not exist.
func (t *Tenant) MoveMessage(userID, msgID, folderID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, m, err := t.msgErr(userID, msgID)
	if err != nil {
		return err
	}
	f := b.folder(folderID)
	if f == nil || f.ID == b.root {
		return fmt.Errorf("tenant: folder %q: %w", folderID, model.ErrNotFound)
	}
	if f.ID == m.FolderID {
		return nil
	}
	t.seq++
	b.tombs[m.FolderID] = append(b.tombs[m.FolderID], tomb{id: m.ID, seq: t.seq})
	m.FolderID = f.ID
	m.IsDraft = m.IsDraft && f.WellKnown == "drafts"
	t.touch(m)
	return nil
}

// FolderCounts returns the number of messages and unread messages in a folder and its number
// of child folders (all zero when the mailbox or folder does not exist).
func (t *Tenant) FolderCounts(userID, folderID string) (total, unread, children int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return 0, 0, 0
	}
	for _, m := range b.msgs {
		if m.FolderID == folderID {
			total++
			if !m.IsRead {
				unread++
			}
		}
	}
	for _, f := range b.folders {
		if f.ParentID == folderID {
			children++
		}
	}
	return total, unread, children
}

// itemID makes a Graph-like immutable id: "AAMkA" then base64url bytes, unique per mailbox,
// kind and number.
func itemID(seed int64, box int, kind string, n int) string {
	mb := sha256.Sum256(fmt.Appendf(nil, "mailbox/%d/%d", seed, box))
	it := sha256.Sum256(fmt.Appendf(nil, "item/%d/%d/%s/%d", seed, box, kind, n))
	var raw []byte
	raw = append(raw, mb[:16]...)
	raw = append(raw, 0x00, 0x46, 0x00, 0x00)
	raw = append(raw, it[:24]...)
	return "AAMkA" + base64.RawURLEncoding.EncodeToString(raw)
}

func guid(seed int64, what string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "guid/%d/%s", seed, what))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
