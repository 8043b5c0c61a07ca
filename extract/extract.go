// Package extract defines the Source interface every mail source implements (Microsoft
// Graph today; EWS and IMAP later) and the records it streams.
package extract

import (
	"context"
	"io"
	"iter"

	"github.com/bascule-migrate/bascule/model"
)

// Selection chooses which mailboxes a run covers. Empty = every mailbox of the tenant.
type Selection struct {
	// Addresses lists mailbox addresses (UPN / primary SMTP) to take; empty means all.
	Addresses []string
}

// ChangeKind says what a Change carries.
type ChangeKind int

const (
	// Upsert: a message that is new or changed since the cursor (Change.Message is set).
	Upsert ChangeKind = iota + 1
	// Delete: a message removed from the folder since the cursor (Change.Message.ID is set).
	Delete
	// Checkpoint: every change before this one belongs to the page that Cursor follows.
	// When Final is true, Cursor is the delta token for the next pass; it may be stored
	// once every preceding change has been written to the target.
	Checkpoint
)

// Change is one element of a folder's change stream.
type Change struct {
	Kind    ChangeKind
	Message model.Message
	// Record is set instead of Message on the changes of a groupware collection (on a
	// Delete only Record.ID is set).
	Record model.Record
	// Cursor is set on Checkpoint changes.
	Cursor string
	// Final is set on the Checkpoint that ends the pass (Graph's @odata.deltaLink).
	Final bool
}

// Source reads mailboxes, folders and messages from a mail system.
//
// Errors are classified with model.Retryable / model.Permanent / model.Fatal; a missing
// mailbox, folder or message wraps model.ErrNotFound. Implementations handle throttling
// themselves (waiting on Retry-After within the source's budget) and return a
// model.Throttled only when they give up.
type Source interface {
	// Mailboxes lists the mailboxes chosen by sel. An address in sel that does not exist is
	// an error wrapping model.ErrNotFound.
	Mailboxes(ctx context.Context, sel Selection) ([]model.Mailbox, error)

	// Folders lists every mail folder of mbx, parents before children, with Path filled.
	Folders(ctx context.Context, mbx model.Mailbox) ([]model.Folder, error)

	// Changes streams the changes of one folder since cursor ("" = from the beginning: every
	// message arrives as an Upsert). The stream ends with a Checkpoint whose Final is true.
	// An expired cursor yields an error wrapping model.ErrCursorExpired as the first element;
	// the caller then starts again with "". Iteration stops at the first error.
	Changes(ctx context.Context, mbx model.Mailbox, folder model.Folder, cursor string) iter.Seq2[Change, error]

	// Open returns the RFC 5322 source of one message, byte for byte as the source holds it.
	// The caller closes it. A body cut short by the network surfaces as a read error
	// (wrapping model.ErrRetryable), never as a short successful read.
	Open(ctx context.Context, mbx model.Mailbox, msg model.Message) (io.ReadCloser, error)
}

// GroupwareSource reads calendars, contacts and task lists. A source that has none (IMAP)
// does not implement it.
type GroupwareSource interface {
	// Collections lists the calendars, contact folders and task lists of mbx whose kind is
	// in kinds (empty = all), the default one of each kind first.
	Collections(ctx context.Context, mbx model.Mailbox, kinds []model.CollectionKind) ([]model.Collection, error)

	// Records streams the changes of one collection since cursor, with the same contract
	// as Source.Changes: Upsert (Change.Record set, Payload filled), Delete (Record.ID set),
	// Checkpoint (Final on the last); an expired cursor yields model.ErrCursorExpired first.
	Records(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string) iter.Seq2[Change, error]
}

// SettingsSource reads what a mailbox carries besides its items: its purpose, time zone and
// language, the grants the source itself exposes (Graph: calendar permissions), inbox rules
// and out-of-office. Mailbox-level and folder permissions that Graph does not expose come
// from Exchange's own exports (extract/exchangecsv).
type SettingsSource interface {
	Settings(ctx context.Context, mbx model.Mailbox) (model.MailboxSettings, error)
}
