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
	"errors"
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

// Fleet leases: N `bascule worker` processes share one migration by leasing its mailboxes
// one at a time from a queue in the shared store (PostgreSQL for many machines, SQLite for
// one). A lease lasts a time to live and is kept alive by heartbeats (Renew); a worker that
// dies stops renewing, its lease expires and another worker takes the mailbox over, resuming
// from the store's last checkpoint.

// LeaseStatus is where a mailbox stands in a fleet queue.
type LeaseStatus string

const (
	// LeasePending: waiting for a worker (never leased, or given back).
	LeasePending LeaseStatus = "pending"
	// LeaseLeased: a worker holds it until Expires (past Expires, anyone may take it over).
	LeaseLeased LeaseStatus = "leased"
	// LeaseDone: migrated.
	LeaseDone LeaseStatus = "done"
	// LeaseFailed: the worker gave up on it; Error says why.
	LeaseFailed LeaseStatus = "failed"
)

// Lease is one mailbox's place in a fleet queue.
type Lease struct {
	Queue   string
	Mailbox string // source id
	Address string
	Target  string
	Status  LeaseStatus
	// Worker holds the lease (LeaseLeased), or held it last.
	Worker string
	// Token grows at every Lease of this mailbox: a holder's claim is (Worker, Token), so a
	// worker whose lease expired and was taken over cannot renew or release it.
	Token     int64
	Leased    time.Time // when the current (or last) holder took it
	Heartbeat time.Time // its last Lease or Renew
	Expires   time.Time // zero unless leased
	Attempts  int       // times leased
	Error     string
	Updated   time.Time
}

// Expired reports whether a leased mailbox's time to live has run out at now.
func (l Lease) Expired(now time.Time) bool {
	return l.Status == LeaseLeased && !l.Expires.IsZero() && now.After(l.Expires)
}

var (
	// ErrLeaseLost is returned by Renew and Release when the caller no longer holds the
	// lease: it expired and another worker took it over, or it was released.
	ErrLeaseLost = errors.New("state: lease lost (it expired and another worker may have taken the mailbox over)")
	// ErrQueueFinished is returned by Lease when no mailbox of the queue is pending or
	// leased: every one is done or failed (or the queue is empty). A worker then exits.
	ErrQueueFinished = errors.New("state: no mailbox left in the queue")
	// ErrNoneFree is returned by Lease when every unfinished mailbox is leased by a worker
	// whose lease has not expired. A worker then waits and tries again: a lease that expires
	// (its holder died) becomes free.
	ErrNoneFree = errors.New("state: every unfinished mailbox is leased by a live worker")
)

// Leaser is the fleet queue a store offers next to Store (both state/sqlite and
// state/postgres do). Every method is safe for concurrent use, by many processes on the
// same store. Expiry is judged by the store's clock (the database server's for PostgreSQL),
// so workers on machines with skewed clocks agree.
type Leaser interface {
	// Enqueue adds mailboxes (ID, Address, Target) to queue as pending. A mailbox already in
	// the queue is left as it is (whatever its status), so every worker of a fleet may
	// enqueue the same list. It returns how many were added.
	Enqueue(ctx context.Context, queue string, mailboxes []Mailbox) (added int, err error)
	// Lease claims one mailbox of queue for worker for ttl: a pending one, or a leased one
	// whose lease has expired (taken over; Attempts tells). Two callers never get the same
	// mailbox while its lease runs. Nothing to claim: ErrQueueFinished or ErrNoneFree.
	Lease(ctx context.Context, queue, worker string, ttl time.Duration) (Lease, error)
	// Renew extends l (a heartbeat) to ttl from now and returns it updated; ErrLeaseLost
	// when l's holder no longer holds it.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release ends l with status LeaseDone, LeaseFailed (reason says why) or LeasePending
	// (given back for another worker, e.g. on shutdown); ErrLeaseLost when l's holder no
	// longer holds it.
	Release(ctx context.Context, l Lease, status LeaseStatus, reason string) error
	// Leases lists the mailboxes of queue ("" = every queue), ordered by queue and address.
	Leases(ctx context.Context, queue string) ([]Lease, error)
}
