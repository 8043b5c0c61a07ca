// Package model is the canonical vocabulary shared by every stage of Bascule:
// mailboxes, folders, messages and their flags. It holds types only, no I/O.
package model

import (
	"time"
)

// Mailbox is one source mailbox and the target account it moves to.
type Mailbox struct {
	// ID is the source's stable identifier (Graph user id).
	ID string
	// Address is the primary SMTP address / UPN on the source.
	Address string
	// DisplayName is the human name, for reports.
	DisplayName string
	// Kind is "user", "shared", "room", "equipment" or "" when unknown.
	Kind string
	// Target is the login on the target server ("" = derived from Address by the mapping).
	Target string
}

// WellKnown names of folders, independent of locale (Graph well-known folder names).
const (
	WellKnownInbox        = "inbox"
	WellKnownSentItems    = "sentitems"
	WellKnownDrafts       = "drafts"
	WellKnownDeletedItems = "deleteditems"
	WellKnownJunkEmail    = "junkemail"
	WellKnownArchive      = "archive"
	WellKnownOutbox       = "outbox"
)

// Folder is one mail folder of a mailbox.
type Folder struct {
	// ID is the source's stable folder id.
	ID string
	// ParentID is the source id of the parent folder ("" for top level).
	ParentID string
	// Path is the display names from the top of the tree to this folder, unescaped
	// (e.g. ["Boîte de réception", "Projets", "2024"]). Names may contain any Unicode and the
	// target's separator character; the sink escapes them.
	Path []string
	// WellKnown is the locale-independent role (WellKnownInbox, …) or "".
	WellKnown string
	// TotalItems is the count the source reports (for estimates; may be 0 if unknown).
	TotalItems int64
}

// Flags are the message states that carry over to IMAP system flags.
type Flags struct {
	Seen     bool // read → \Seen
	Flagged  bool // flagged → \Flagged
	Answered bool // replied / replied-all / forwarded → \Answered
	Draft    bool // draft → \Draft
	// Keywords are the message's IMAP keywords ($Forwarded, $Junk, $label1, user labels),
	// sorted and separated by one space; "" for none and for sources without keywords
	// (Graph, EWS). A string keeps Flags comparable with ==.
	Keywords string
}

// Message is the metadata of one message; its RFC 5322 bytes travel separately as a stream.
type Message struct {
	// ID is the source's stable id (Graph immutable id).
	ID string
	// ChangeKey is the source's version of the item; it changes when flags change.
	ChangeKey string
	// FolderID is the source folder id holding the message.
	FolderID string
	// Received is the time the message arrived; it becomes the IMAP INTERNALDATE.
	Received time.Time
	// Size is the size of the MIME source in bytes if the source knows it, else 0.
	Size int64
	// Flags are the read/flag/answered/draft states.
	Flags Flags
	// MessageID is the Internet Message-ID header if the source knows it (used to find an
	// in-flight message on the target after a crash).
	MessageID string
	// Subject is for reports only.
	Subject string
}
