// Package verify compares what a migration wrote on the targets with the source and the
// state store, read-only on both sides, and reports every difference: per mailbox and
// folder (or collection) counts and bytes; per item the state store's SHA-256 against the
// target's content, flags and internal dates for mail; events by occurrence over a window;
// contacts and tasks by field.
//
// Report is the documented JSON schema of `bascule verify --output json` (docs/VERIFY.md);
// reports/ renders it as HTML and CSV. Field names and DiffKind values are stable: new
// fields may be added, none renamed or removed within a schema version.
package verify

import (
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// SchemaVersion is Report.Schema.
const SchemaVersion = "bascule.verify/1"

// Verdicts (Report.Verdict).
const (
	// VerdictOK: every compared item matches; exit code 0.
	VerdictOK = "ok"
	// VerdictDifferences: differences were found (listed); exit code 2.
	VerdictDifferences = "differences"
	// VerdictIncomplete: no difference found, but some mailboxes or folders could not be
	// read (Report.Errors); exit code 2.
	VerdictIncomplete = "incomplete"
	// VerdictInterrupted: interrupted before the end; exit code 4.
	VerdictInterrupted = "interrupted"
)

// DiffKind says what differs.
type DiffKind string

// The kinds of difference.
const (
	// MissingOnTarget: the source holds the item (or the store says it was written) and the
	// target does not.
	MissingOnTarget DiffKind = "missing_on_target"
	// ExtraOnTarget: the target holds an item the source and the store do not know.
	ExtraOnTarget DiffKind = "extra_on_target"
	// NotMigrated: the source holds the item but the store has it not done (failed, in
	// flight, or never seen: run migrate again).
	NotMigrated DiffKind = "not_migrated"
	// BytesDiffer: the target's content does not hash to the store's SHA-256 (Detail says
	// whether the size differs too).
	BytesDiffer DiffKind = "bytes_differ"
	// FlagsDiffer: a message's flags on the target are not the source's.
	FlagsDiffer DiffKind = "flags_differ"
	// InternalDateDiffers: a message's INTERNALDATE is not the source's received time.
	InternalDateDiffers DiffKind = "internal_date_differs"
	// CountDiffers: a folder's item count or bytes on the target are not the source's
	// (reported once per folder, besides the item differences that explain it).
	CountDiffers DiffKind = "count_differs"
	// FolderMissing: a source folder or collection has no counterpart on the target.
	FolderMissing DiffKind = "folder_missing"
	// OccurrenceMissing: an occurrence of an event (in the window) is on the source but not
	// on the target.
	OccurrenceMissing DiffKind = "occurrence_missing"
	// OccurrenceExtra: the target has an occurrence the source has not.
	OccurrenceExtra DiffKind = "occurrence_extra"
	// OccurrenceChanged: both sides have the occurrence, with another start, end, summary,
	// location, attendees or cancelled state (Field says which).
	OccurrenceChanged DiffKind = "occurrence_changed"
	// FieldChanged: a contact or task field of the source is not on the target as it was
	// written (Field says which).
	FieldChanged DiffKind = "field_changed"

	// Permissions (item kind "permissions"): IMAP ACLs (RFC 4314 GETACL of each target
	// folder) and CalDAV/CardDAV shares (DAV:acl) against what migrate writes from the
	// source's grants. Field is the identifier (login, "anyone", "authenticated"); Expected
	// and Actual its rights (IMAP letters) or share level ("read", "read-write").

	// IdentifierMissing: an identifier migrate grants has no entry on the target.
	IdentifierMissing DiffKind = "identifier_missing"
	// IdentifierExtra: the target grants an identifier that the source's grants do not
	// (the folder owner's own entry is not counted).
	IdentifierExtra DiffKind = "identifier_extra"
	// RightMissing: the identifier lacks rights it should have (Detail lists them).
	RightMissing DiffKind = "right_missing"
	// RightExtra: the identifier has rights beyond Exchange's (broader access).
	RightExtra DiffKind = "right_extra"

	// Sieve (item kind "rules"): the active script against the one migrate installs from the
	// source's inbox rules and out-of-office (TargetRef is the script's name).

	// SieveMissing: migrate installs a script, and the account has no active one, or
	// (--sieve replace) another one active.
	SieveMissing DiffKind = "sieve_missing"
	// SieveDiffers: the active Bascule script is not the one migrate installs; Field is the
	// first differing line ("line 12"), Expected and Actual that line on each side.
	SieveDiffers DiffKind = "sieve_differs"
	// SieveExtra: the source has no rule nor auto-reply on any more, but Bascule's script is
	// still active on the target.
	SieveExtra DiffKind = "sieve_extra"
)

// Report is the result of one verification.
type Report struct {
	// Schema is SchemaVersion.
	Schema   string    `json:"schema"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Verdict is one of VerdictOK, VerdictDifferences, VerdictIncomplete, VerdictInterrupted.
	Verdict string `json:"verdict"`
	// Options says what was compared.
	Options ReportOptions `json:"options"`
	// Totals sums every mailbox.
	Totals Totals `json:"totals"`
	// Mailboxes, in the order verified (by address).
	Mailboxes []MailboxReport `json:"mailboxes"`
	// Differences lists every difference of every mailbox, ordered by mailbox, folder, kind
	// and item.
	Differences []Difference `json:"differences"`
	// Errors are the things that could not be verified (a mailbox or folder that could not
	// be read); they are not differences.
	Errors []Problem `json:"errors,omitempty"`
	// ManualActions are what migrate leaves to the administrator for the verified
	// permissions and rules (groups, send-as, deny entries, a user's own Sieve script kept…):
	// not differences, listed so that they can be checked by hand.
	ManualActions []model.ManualAction `json:"manual_actions,omitempty"`
	// NotVerifiable lists what this target cannot show, so could not be compared (Radicale
	// holds its sharing in a rights file; a server without IMAP ACL): not differences.
	NotVerifiable []Problem `json:"not_verifiable,omitempty"`
}

// ReportOptions are the settings of a verification.
type ReportOptions struct {
	// Kinds verified: "mail", "calendar", "contacts", "tasks", "permissions", "rules".
	Kinds []string `json:"kinds"`
	// All: every item's content was compared. Otherwise Sample items (or SamplePercent of
	// them) per folder, chosen with Seed (the same seed chooses the same items).
	All           bool    `json:"all"`
	Sample        int     `json:"sample,omitempty"`
	SamplePercent float64 `json:"sample_percent,omitempty"`
	Seed          uint64  `json:"seed"`
	// WindowStart and WindowEnd bound the occurrences compared (recurrences expanded).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
}

// Totals count a whole report.
type Totals struct {
	Mailboxes int `json:"mailboxes"`
	Folders   int `json:"folders"`
	// Source and Target are the items and bytes counted on each side.
	Source Count `json:"source"`
	Target Count `json:"target"`
	// Checked is the number of items whose content was compared (sampled or all).
	Checked int64 `json:"checked"`
	// Occurrences compared (source side, in the window).
	Occurrences int64 `json:"occurrences"`
	// Differences by kind.
	Differences map[DiffKind]int `json:"differences"`
}

// Count is a number of items and their bytes. Bytes are 0 where a side cannot tell cheaply
// (groupware sources: Graph JSON sizes mean nothing on the target).
type Count struct {
	Items int64 `json:"items"`
	Bytes int64 `json:"bytes"`
}

// MailboxReport is one mailbox.
type MailboxReport struct {
	// ID is the mailbox's source id; Address its SMTP address; Target the target login.
	ID      string         `json:"id"`
	Address string         `json:"address"`
	Target  string         `json:"target"`
	Folders []FolderReport `json:"folders"`
	// Differences is the number of differences of this mailbox (listed in Report.Differences).
	Differences int `json:"differences"`
	// Error is set when the mailbox could not be verified at all.
	Error string `json:"error,omitempty"`
	// Settings counts the permissions and Sieve script compared (absent when neither kind
	// was verified).
	Settings *SettingsReport `json:"settings,omitempty"`
}

// SettingsReport counts what was compared of a mailbox's permissions and rules.
type SettingsReport struct {
	// ACLFolders is the number of target folders whose ACL was read; ACLEntries the
	// (folder, identifier) entries migrate writes there.
	ACLFolders int `json:"acl_folders"`
	ACLEntries int `json:"acl_entries"`
	// Collections is the number of collections whose sharing was read back; Shares the
	// (collection, login) shares migrate writes.
	Collections int `json:"collections"`
	Shares      int `json:"shares"`
	// Sieve says how the Sieve script compared: "same", "differs", "missing", "extra",
	// "none" (nothing to install, nothing installed), "user_script_kept" (--sieve keep and the
	// user's own script is active: a manual action), "not_verifiable".
	Sieve string `json:"sieve,omitempty"`
}

// FolderReport is one mail folder or groupware collection.
type FolderReport struct {
	// Kind is "mail", "calendar", "contacts" or "tasks".
	Kind string `json:"kind"`
	// ID is the source folder / collection id; Path its display path ("/"-joined).
	ID   string `json:"id"`
	Path string `json:"path"`
	// TargetName is the IMAP mailbox name or the collection's href.
	TargetName string `json:"target_name"`
	// Source counts the source's items (and bytes, for mail); Store the items the state
	// store has done there; Target what the target holds.
	Source Count `json:"source"`
	Store  Count `json:"store"`
	Target Count `json:"target"`
	// Checked is the number of items whose content was compared.
	Checked int64 `json:"checked"`
	// Occurrences compared (calendars).
	Occurrences int64  `json:"occurrences,omitempty"`
	Differences int    `json:"differences"`
	Error       string `json:"error,omitempty"`
}

// Difference is one thing that differs.
type Difference struct {
	Kind DiffKind `json:"kind"`
	// Mailbox is the source address; Target the target login.
	Mailbox string `json:"mailbox"`
	Target  string `json:"target"`
	// ItemKind is "mail", "calendar", "contacts", "tasks", "permissions" or "rules".
	ItemKind string `json:"item_kind"`
	// Folder is the source folder's display path; FolderID its source id.
	Folder   string `json:"folder"`
	FolderID string `json:"folder_id,omitempty"`
	// ItemID is the source item id ("" for an extra item on the target or a folder-level
	// difference); Subject the message subject, event summary, contact name or task title.
	ItemID  string `json:"item_id,omitempty"`
	Subject string `json:"subject,omitempty"`
	// TargetRef locates the item on the target: "INBOX;UIDVALIDITY=…;UID=…" (IMAP URL
	// style, RFC 5092) or the DAV href.
	TargetRef string `json:"target_ref,omitempty"`
	// Occurrence is the occurrence's RECURRENCE-ID (UTC, RFC 3339; a date for all-day
	// events) for occurrence differences.
	Occurrence string `json:"occurrence,omitempty"`
	// Field names what differs: a flag (\Seen), "internaldate", "size", "sha256",
	// "uidvalidity", an occurrence property (start, end, summary, location, attendees,
	// cancelled), a contact field (its Graph path: displayName, emailAddresses[0].address, …)
	// or a task property (DUE, STATUS, …).
	Field string `json:"field,omitempty"`
	// Expected is the source's (or the store's) value, Actual the target's.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Detail is a sentence for humans.
	Detail string `json:"detail"`
}

// Problem is something that could not be verified.
type Problem struct {
	Mailbox string `json:"mailbox"`
	Folder  string `json:"folder,omitempty"`
	Message string `json:"message"`
}
