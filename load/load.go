// Package load defines the Sink interface every target protocol implements (IMAP today;
// CalDAV/CardDAV and ManageSieve later).
package load

import (
	"context"
	"errors"
	"io"

	"github.com/bascule-migrate/bascule/model"
)

// FolderRef is where a folder landed on the target.
type FolderRef struct {
	// Name is the target's full mailbox name (already encoded as the server needs, e.g. mUTF-7
	// decoded form as go-imap takes it).
	Name string
	// UIDValidity of the target folder (IMAP), 0 when not applicable.
	UIDValidity uint32
}

// ItemRef is where one item landed on the target.
type ItemRef struct {
	Folder FolderRef
	// UID of the message (IMAP), 0 when the server did not say (no UIDPLUS).
	UID uint32
}

// Item is one message to write: its metadata, and its bytes.
type Item struct {
	Message model.Message
	// Body is the RFC 5322 source. It is read exactly once, to its end, by Append.
	Body io.Reader
	// Size is the exact number of bytes Body yields.
	Size int64
	// SHA256 is the hex SHA-256 of the body (for lookups after a crash).
	SHA256 string
	// Binary says the body holds NUL or bare CR/LF bytes, which a plain IMAP literal cannot
	// carry unchanged; the sink sends it as a binary literal where the server allows it.
	Binary bool
}

// Sink writes into one target server.
type Sink interface {
	// Open opens a session for one target account. Login failures wrap model.ErrFatal.
	Open(ctx context.Context, account string) (MailboxWriter, error)
	// Close releases shared resources.
	Close() error
}

// MailboxWriter writes into one target account. Its methods are safe for concurrent use;
// concurrent Appends are pipelined on the wire where the protocol allows.
type MailboxWriter interface {
	// EnsureFolder creates the folder if needed (with parents and special-use) and returns
	// its reference. Existing folders are reused, never duplicated.
	EnsureFolder(ctx context.Context, f model.Folder) (FolderRef, error)

	// Append writes one message into folder with its flags and received date, unchanged.
	// A message the server refuses wraps model.ErrPermanent with the server's text;
	// connection trouble wraps model.ErrRetryable.
	Append(ctx context.Context, folder FolderRef, it Item) (ItemRef, error)

	// Lookup finds a message already in folder that has exactly the given size and SHA-256
	// and whose UID is not in exclude (UIDs already accounted for). It returns
	// model.ErrNotFound (wrapped) when there is none.
	Lookup(ctx context.Context, folder FolderRef, msg model.Message, size int64, sha256 string, exclude map[uint32]bool) (ItemRef, error)

	// SetFlags changes the flags Bascule manages on one message from what the source had
	// when the message was last written (from) to what it has now (to): the four system
	// flags as in to; to's keywords added and from's keywords that to lacks removed. Any
	// other flag or keyword (set on the target by someone else) is left alone. A vanished
	// message wraps model.ErrNotFound.
	SetFlags(ctx context.Context, ref ItemRef, from, to model.Flags) error

	// Delete removes one message. A vanished message is not an error.
	Delete(ctx context.Context, ref ItemRef) error

	// Close ends the session.
	Close() error
}

// CollectionRef is where a groupware collection landed on the target.
type CollectionRef struct {
	// Href is the collection's URL path on the server, ending in "/".
	Href string
	Kind model.CollectionKind
}

// Resource is one iCalendar or vCard object to write.
type Resource struct {
	// Name is the resource's file name inside the collection, deterministic from the source
	// id (the same item always lands at the same href, so a rerun can never duplicate it).
	Name string
	// Data is the iCalendar (text/calendar) or vCard (text/vcard) object.
	Data []byte
	// ETag: "" writes only if the resource does not exist (If-None-Match: *); otherwise
	// only if the target still holds that version (If-Match).
	ETag string
}

// ResourceRef is where a resource landed, and its version on the target.
type ResourceRef struct {
	Href string // URL path of the resource
	ETag string // as the server gave it ("" when it gave none)
}

// ErrPrecondition is wrapped by Put when the condition failed: the resource exists (ETag "")
// or was changed on the target since (ETag set).
var ErrPrecondition = errors.New("precondition failed")

// GroupwareSink writes calendars, address books and task lists into one target server
// (CalDAV/CardDAV).
type GroupwareSink interface {
	// Open opens a session for one target account. Login failures wrap model.ErrFatal.
	Open(ctx context.Context, account string) (CollectionWriter, error)
	// Close releases shared resources.
	Close() error
}

// CollectionWriter writes into one target account. Its methods are safe for concurrent use.
type CollectionWriter interface {
	// EnsureCollection finds or creates the collection for c (display name and colour set on
	// creation). A default collection of the source maps to the target's default one of that
	// kind. Existing collections are reused, never duplicated.
	EnsureCollection(ctx context.Context, c model.Collection) (CollectionRef, error)
	// Put writes one resource under the condition r.ETag states. A refused resource wraps
	// model.ErrPermanent with the server's reason; a failed condition wraps ErrPrecondition.
	Put(ctx context.Context, col CollectionRef, r Resource) (ResourceRef, error)
	// Stat returns the current ETag of a resource, or model.ErrNotFound (wrapped).
	Stat(ctx context.Context, col CollectionRef, name string) (ResourceRef, error)
	// Delete removes one resource. A vanished resource is not an error.
	Delete(ctx context.Context, ref ResourceRef) error
	// Close ends the session.
	Close() error
}

// ACLWriter is implemented by a MailboxWriter whose server supports IMAP ACL (RFC 4314).
// Folder names are target names as FolderRef.Name gives them; identifiers are target logins
// or the special "anyone" / "authenticated".
type ACLWriter interface {
	// SetACL replaces identifier's rights on folder (RFC 4314 letters, e.g. "lrs"); empty
	// rights remove identifier from the folder's ACL.
	SetACL(ctx context.Context, folder, identifier, rights string) error
	// ACL returns the folder's access control list: identifier → rights.
	ACL(ctx context.Context, folder string) (map[string]string, error)
	// Folders lists every folder of the account (target names), for mailbox-wide grants.
	Folders(ctx context.Context) ([]string, error)
}

// CollectionSharer is implemented by a CollectionWriter whose server lets an owner share a
// collection with another account (RFC 3744 ACL, or the server's own mechanism).
type CollectionSharer interface {
	// Share gives grantee (a target login) read or read-write access to col: write false =
	// read only. A server that cannot do it returns an error wrapping ErrUnsupported.
	Share(ctx context.Context, col CollectionRef, grantee string, write bool) error
}

// ErrUnsupported is wrapped when the target cannot do what was asked (it becomes a manual
// action in the report, never a silent drop).
var ErrUnsupported = errors.New("not supported by the target")
