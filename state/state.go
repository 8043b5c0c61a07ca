// Package state defines the progress store: runs, mailboxes, folders (with delta cursors) and
// items (source id, version, target reference, SHA-256, status). SQLite is the default
// implementation (state/sqlite); PostgreSQL follows for fleets.
//
// The rule every caller relies on: an item is StatusDone only after the target confirmed it
// and PutItems returned nil, and PutItems commits all of its items in one transaction that
// survives kill -9 once it has returned.
package state

import (
	"context"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Status of one item.
type Status string

const (
	// StatusInFlight: about to be written, or being written; on resume, look it up on the
	// target before writing it again.
	StatusInFlight Status = "inflight"
	// StatusDone: the target confirmed it.
	StatusDone Status = "done"
	// StatusFailed: it could not be written; LastError says why.
	StatusFailed Status = "failed"
	// StatusDeleted: removed from the source; removed from the target too when the delete
	// policy is mirror.
	StatusDeleted Status = "deleted"
)

// Run is one invocation of migrate.
type Run struct {
	ID       int64
	Started  time.Time
	Finished time.Time // zero while running or after a crash
	Command  string    // "migrate", "migrate --dry-run", …
	Status   string    // "running", "done", "failed", "interrupted"
	// Counters, filled by FinishRun.
	Written, Updated, Deleted, Failed, Skipped int64
	Bytes                                      int64
}

// Mailbox is a mailbox known to the store.
type Mailbox struct {
	ID      string // source id
	Address string
	Target  string // target login
	Status  string // "pending", "running", "done", "failed"
	Error   string
	Updated time.Time
}

// Folder is a source folder and where it went.
type Folder struct {
	Mailbox     string // mailbox source id
	ID          string // folder source id
	Path        string // "/"-joined display path, for reports
	Target      string // target mailbox name
	UIDValidity uint32
	// Cursor is the delta token to resume from ("" = never completed a pass).
	Cursor string
	// Kind is "" for a mail folder, else the groupware collection's kind (Target is then
	// the collection's href).
	Kind model.CollectionKind
}

// Item is the progress of one message.
type Item struct {
	Mailbox   string
	ID        string // source id
	FolderID  string // source folder id
	ChangeKey string
	Status    Status
	// Target reference.
	TargetFolder string
	UIDValidity  uint32
	UID          uint32
	SHA256       string // hex
	Size         int64
	Flags        model.Flags
	MessageID    string
	Received     time.Time
	Attempts     int
	LastError    string
	Updated      time.Time
	// Groupware resources: Kind is "" for a message, else the collection's kind; Href and
	// ETag are the DAV resource's URL path and version on the target (SHA256 and Size are
	// those of the iCalendar/vCard object written).
	Kind model.CollectionKind
	Href string
	ETag string
}

// Counts is the number of items and bytes per status.
type Counts struct {
	Items map[Status]int64
	Bytes map[Status]int64
	// Kinds counts items by kind ("mail", "calendar", "contacts", "tasks") and status.
	Kinds map[string]map[Status]int64
}

// Store is the progress store. Every method is safe for concurrent use.
// "Not found" is an error wrapping model.ErrNotFound; every other error is returned as it is
// (a broken store is fatal for a run).
type Store interface {
	// BeginRun records a new run and returns its id.
	BeginRun(ctx context.Context, command string) (int64, error)
	// FinishRun records the end of a run with its counters and status.
	FinishRun(ctx context.Context, r Run) error
	// Runs lists runs, newest first.
	Runs(ctx context.Context) ([]Run, error)

	// PutMailbox inserts or updates a mailbox.
	PutMailbox(ctx context.Context, m Mailbox) error
	// Mailboxes lists every mailbox, ordered by address.
	Mailboxes(ctx context.Context) ([]Mailbox, error)

	// PutFolder inserts or updates a folder (cursor included).
	PutFolder(ctx context.Context, f Folder) error
	// Folder returns one folder or model.ErrNotFound.
	Folder(ctx context.Context, mailbox, id string) (Folder, error)
	// Folders lists the folders of a mailbox.
	Folders(ctx context.Context, mailbox string) ([]Folder, error)

	// Item returns one item or model.ErrNotFound.
	Item(ctx context.Context, mailbox, id string) (Item, error)
	// Items lists the items of one source folder ("" = all folders of the mailbox).
	Items(ctx context.Context, mailbox, folderID string) ([]Item, error)
	// PutItems inserts or replaces items in one transaction (Updated is set by the store).
	PutItems(ctx context.Context, items []Item) error
	// Counts sums items and bytes by status for a mailbox ("" = every mailbox).
	Counts(ctx context.Context, mailbox string) (Counts, error)

	// Close flushes and closes the store.
	Close() error
}
