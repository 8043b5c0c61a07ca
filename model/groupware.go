package model

// CollectionKind is what a groupware collection holds.
type CollectionKind string

const (
	// KindCalendar holds events (Graph calendar → CalDAV calendar of VEVENTs).
	KindCalendar CollectionKind = "calendar"
	// KindContacts holds contacts (Graph contactFolder → CardDAV address book of vCards).
	KindContacts CollectionKind = "contacts"
	// KindTasks holds tasks (Microsoft To Do list → CalDAV calendar of VTODOs).
	KindTasks CollectionKind = "tasks"
)

// Collection is one calendar, contact folder or task list of a mailbox.
type Collection struct {
	// ID is the source's stable id (Graph calendar / contactFolder / todoTaskList id).
	ID string
	// Kind says what the collection holds.
	Kind CollectionKind
	// Name is the display name (any Unicode).
	Name string
	// Color is "#RRGGBB" when the source has one, else "".
	Color string
	// Default is set on the mailbox's default calendar, default contact folder and default
	// task list; they map to the target's default collections.
	Default bool
	// Owner is the address of the owner when the collection is shared to this mailbox by
	// somebody else ("" = the mailbox's own).
	Owner string
	// ReadOnly is set when the mailbox cannot write into it on the source (shared read-only).
	ReadOnly bool
	// TotalItems is the count the source reports (for estimates; may be 0 if unknown).
	TotalItems int64
}

// Record is one groupware item as the source gives it: an event (series master with its
// exceptions and cancelled occurrences, or a single instance), a contact or a task.
type Record struct {
	// ID is the source's stable id.
	ID string
	// ChangeKey is the source's version; it changes whenever the item or (for a series
	// master) any of its exceptions or cancellations changes.
	ChangeKey string
	// CollectionID is the source collection holding the record.
	CollectionID string
	// Kind is the kind of its collection.
	Kind CollectionKind
	// Payload is the Graph JSON of the item as the source gives it:
	//   - calendar: an event; a seriesMaster carries "exceptionOccurrences" (the exception
	//     events, full) and "cancelledOccurrences" (occurrence ids); "attachments" expanded;
	//   - contacts: a contact;
	//   - tasks: a todoTask with "checklistItems" expanded.
	// Start and end times are in UTC (no Prefer: outlook.timezone), the original time zones
	// in originalStartTimeZone / originalEndTimeZone.
	Payload []byte
	// Photo is the contact's photo bytes (JPEG/PNG as the source holds it), nil if none.
	Photo []byte
	// Subject is the event subject, task title or contact display name, for reports only.
	Subject string
}
