package extract

import (
	"context"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Inventory is implemented by sources that can size a mailbox read-only from folder
// statistics and a few bounded, targeted queries, without listing every item (bascule
// audit, planner/audit). Each method states its request bound; docs/AUDIT.md sums them.
type Inventory interface {
	// MailboxInfo returns what the source says about the mailbox as a whole: its type,
	// its archive and its quota. Fields the source cannot tell stay zero (Known says which).
	MailboxInfo(ctx context.Context, mbx model.Mailbox) (MailboxInfo, error)

	// FolderStats lists every folder of mbx — mail folders and the calendars, contact
	// folders and task lists — parents before children, with the item count and (where the
	// source reports it) the size of each.
	FolderStats(ctx context.Context, mbx model.Mailbox) ([]FolderStat, error)

	// LargeItems returns the mail items of mbx larger than minSize bytes, largest first, at
	// most limit of them, and how many items are larger than minSize in all (Total; a lower
	// bound when Capped).
	LargeItems(ctx context.Context, mbx model.Mailbox, minSize int64, limit int) (LargeItems, error)

	// SeriesStats counts the recurring series of one calendar (a FolderStat of kind
	// calendar) and their modified occurrences (exceptions).
	SeriesStats(ctx context.Context, mbx model.Mailbox, cal FolderStat) (series, exceptions int64, err error)
}

// MailboxInfo is what a source says about a mailbox as a whole.
type MailboxInfo struct {
	// Type is "user", "shared", "room", "equipment" (or another value the source gives),
	// "" when unknown.
	Type string
	// Archive is set when the mailbox has an online archive; ArchiveItems and ArchiveBytes
	// size it when the source tells.
	Archive                    bool
	ArchiveItems, ArchiveBytes int64
	// QuotaBytes is the prohibit-send-receive quota; UsedBytes and UsedItems the usage the
	// source reports for the mailbox as a whole (0 = unknown).
	QuotaBytes, UsedBytes, UsedItems int64
	// Known is set when the archive and quota facts come from the source (false: the source
	// could not tell, e.g. the usage report is not allowed; Archive false means unknown).
	Known bool
	// AsOf is the date of the facts when they come from a report (zero = live).
	AsOf time.Time
}

// FolderKind is what a folder of FolderStats holds.
type FolderKind string

const (
	FolderMail     FolderKind = "mail"
	FolderCalendar FolderKind = FolderKind(model.KindCalendar)
	FolderContacts FolderKind = FolderKind(model.KindContacts)
	FolderTasks    FolderKind = FolderKind(model.KindTasks)
	// FolderOther: a folder of the mailbox holding something else (notes, journal…).
	FolderOther FolderKind = "other"
)

// FolderStat is one folder with its statistics.
type FolderStat struct {
	// ID is the source's folder / collection id; ParentID its parent's ("" top level).
	ID, ParentID string
	// Path is the display names from the top of the tree to this folder.
	Path []string
	Kind FolderKind
	// Items is the item count (calendar: series masters and single events, not
	// occurrences); Bytes the size including the items (0 when the source does not say).
	Items, Bytes int64
	// HasBytes is set when Bytes comes from the source.
	HasBytes bool
	// Children is the number of direct child folders.
	Children int
}

// LargeItems is the answer of Inventory.LargeItems.
type LargeItems struct {
	Items  []LargeItem
	Total  int64
	Capped bool
}

// LargeItem is one large mail item.
type LargeItem struct {
	ID, FolderID, Subject string
	Size                  int64
	Received              time.Time
}
