package acl

import (
	"fmt"
	"slices"
	"strings"
)

// Kinds of table row.
const (
	KindRole    = "folder role"   // an Exchange folder permission role
	KindRight   = "folder right"  // one individual Exchange folder right (custom roles)
	KindGraph   = "calendar role" // a Graph calendarRoleType
	KindMailbox = "mailbox right" // Get-MailboxPermission / Get-RecipientPermission / GrantSendOnBehalfTo
)

// DAV privileges (RFC 3744, and read-free-busy from CalDAV, RFC 4791 §6.1.1).
const (
	PrivRead         = "read"
	PrivReadFreeBusy = "read-free-busy"
	PrivWriteContent = "write-content"
	PrivWriteProps   = "write-properties"
	PrivBind         = "bind"
	PrivUnbind       = "unbind"
	PrivWrite        = "write" // aggregate: write-content, write-properties, bind, unbind
	PrivReadACL      = "read-acl"
	PrivWriteACL     = "write-acl"
	PrivAll          = "all"
)

// Sharing levels, for servers that share a collection as a whole rather than by ACL.
const (
	ShareNone     = "none"
	ShareFreeBusy = "freebusy"
	ShareRead     = "read"
	ShareWrite    = "write"
)

// Row is one line of the table: what one source role or right becomes.
type Row struct {
	Name string // as Exchange or Graph spells it
	Kind string // KindRole, KindRight, KindGraph or KindMailbox
	// Rights are the individual Exchange rights a folder role stands for; the role's
	// mapping is the union of theirs.
	Rights []string
	// IMAP is the RFC 4314 rights string on a mail folder; MailExact says it grants exactly
	// what Exchange granted, MailNote why not (or what to know).
	IMAP      string
	MailExact bool
	MailNote  string
	// DAV are the privileges on a calendar (or address book); DAVExact and DAVNote as above.
	DAV      []string
	DAVExact bool
	DAVNote  string
}

// Notes that several rows share.
const (
	noteOwned    = "IMAP has no item ownership: the rights on the delegate's own items are not granted"
	noteOwnedDAV = "DAV has no item ownership: the rights on the delegate's own items are not granted"
	notePrivate  = "private events: Exchange hid their details from this delegate, a CalDAV read does not (unless the server hides CLASS:PRIVATE events)"
	noteFreeBusy = "free/busy only: CalDAV read-free-busy where the server offers it (Cyrus: IMAP right 9 on the calendar); nothing otherwise"
	noteCalOnly  = "a calendar role: on a mail folder it grants nothing"
	noteSubcol   = "CalDAV calendars hold no sub-calendars: nothing to carry"
	noteCreate   = "on Cyrus, creating an item also needs write-content (i), which would let the delegate change every item: not granted, so the delegate cannot create there"
)

var rows = []Row{
	// Individual rights first: folder roles are defined by them.
	{Name: "FolderVisible", Kind: KindRight, IMAP: "l", MailExact: true,
		DAVExact: true, DAVNote: "a collection is visible with read"},
	{Name: "ReadItems", Kind: KindRight, IMAP: "rs", MailExact: true,
		MailNote: "s too: Exchange keeps one read state per item, so a delegate who reads marks the item read for the owner as well",
		DAV:      []string{PrivRead}, DAVExact: true},
	{Name: "CreateItems", Kind: KindRight, IMAP: "i", MailExact: true,
		DAV: []string{PrivBind}, DAVNote: noteCreate},
	{Name: "EditOwnedItems", Kind: KindRight, MailNote: noteOwned, DAVNote: noteOwnedDAV},
	{Name: "DeleteOwnedItems", Kind: KindRight, MailNote: noteOwned, DAVNote: noteOwnedDAV},
	{Name: "EditAllItems", Kind: KindRight, IMAP: "w", MailExact: true,
		MailNote: "messages are immutable in IMAP: editing is setting flags and keywords",
		DAV:      []string{PrivWriteContent, PrivWriteProps}, DAVExact: true},
	{Name: "DeleteAllItems", Kind: KindRight, IMAP: "te", MailExact: true,
		DAV: []string{PrivUnbind}, DAVExact: true},
	{Name: "CreateSubfolders", Kind: KindRight, IMAP: "k", MailExact: true,
		DAVExact: true, DAVNote: noteSubcol},
	{Name: "FolderOwner", Kind: KindRight, IMAP: "lkxa", MailExact: true,
		MailNote: "sees, renames, deletes the folder, creates subfolders and manages its permissions",
		DAV:      []string{PrivReadACL, PrivWriteACL}, DAVExact: true},
	{Name: "FolderContact", Kind: KindRight, MailExact: true, MailNote: "a public-folder contact, not an access right",
		DAVExact: true, DAVNote: "a public-folder contact, not an access right"},

	{Name: "Owner", Kind: KindRole, Rights: []string{"CreateItems", "CreateSubfolders", "DeleteAllItems", "DeleteOwnedItems", "EditAllItems", "EditOwnedItems", "FolderContact", "FolderOwner", "FolderVisible", "ReadItems"}},
	{Name: "PublishingEditor", Kind: KindRole, Rights: []string{"CreateItems", "CreateSubfolders", "DeleteAllItems", "DeleteOwnedItems", "EditAllItems", "EditOwnedItems", "FolderVisible", "ReadItems"}},
	{Name: "Editor", Kind: KindRole, Rights: []string{"CreateItems", "DeleteAllItems", "DeleteOwnedItems", "EditAllItems", "EditOwnedItems", "FolderVisible", "ReadItems"}},
	{Name: "PublishingAuthor", Kind: KindRole, Rights: []string{"CreateItems", "CreateSubfolders", "DeleteOwnedItems", "EditOwnedItems", "FolderVisible", "ReadItems"}},
	{Name: "Author", Kind: KindRole, Rights: []string{"CreateItems", "DeleteOwnedItems", "EditOwnedItems", "FolderVisible", "ReadItems"}},
	{Name: "NonEditingAuthor", Kind: KindRole, Rights: []string{"CreateItems", "DeleteOwnedItems", "FolderVisible", "ReadItems"}},
	{Name: "Reviewer", Kind: KindRole, Rights: []string{"FolderVisible", "ReadItems"}},
	{Name: "Contributor", Kind: KindRole, Rights: []string{"CreateItems", "FolderVisible"}},
	{Name: "AvailabilityOnly", Kind: KindRole, MailNote: noteCalOnly,
		DAV: []string{PrivReadFreeBusy}, DAVExact: true, DAVNote: noteFreeBusy},
	{Name: "LimitedDetails", Kind: KindRole, MailNote: noteCalOnly,
		DAV: []string{PrivReadFreeBusy}, DAVNote: "free/busy without the subject and location Exchange showed; " + noteFreeBusy},
	{Name: "None", Kind: KindRole, MailExact: true, DAVExact: true, MailNote: "no access: no entry", DAVNote: "no access: no entry"},

	{Name: "none", Kind: KindGraph, MailExact: true, DAVExact: true, MailNote: "no access: no entry", DAVNote: "no access: no entry"},
	{Name: "freeBusyRead", Kind: KindGraph, MailNote: noteCalOnly,
		DAV: []string{PrivReadFreeBusy}, DAVExact: true, DAVNote: noteFreeBusy},
	{Name: "limitedRead", Kind: KindGraph, MailNote: noteCalOnly,
		DAV: []string{PrivReadFreeBusy}, DAVNote: "free/busy without the subject and location Exchange showed; " + noteFreeBusy},
	{Name: "read", Kind: KindGraph, MailNote: noteCalOnly,
		DAV: []string{PrivRead}, DAVNote: notePrivate},
	{Name: "write", Kind: KindGraph, MailNote: noteCalOnly,
		DAV: []string{PrivRead, PrivWrite}, DAVNote: notePrivate},
	{Name: "delegateWithoutPrivateEventAccess", Kind: KindGraph, MailNote: noteCalOnly,
		DAV:     []string{PrivRead, PrivWrite},
		DAVNote: "the delegate's meeting handling (invitations sent to them, answering for the owner) has no DAV form; " + notePrivate},
	{Name: "delegateWithPrivateEventAccess", Kind: KindGraph, MailNote: noteCalOnly,
		DAV:     []string{PrivRead, PrivWrite},
		DAVNote: "the delegate's meeting handling (invitations sent to them, answering for the owner) has no DAV form"},
	{Name: "custom", Kind: KindGraph, MailNote: "Graph does not say which rights a custom role holds: read them from Get-MailboxFolderPermission",
		DAVNote: "Graph does not say which rights a custom role holds: read them from Get-MailboxFolderPermission"},

	{Name: "FullAccess", Kind: KindMailbox, IMAP: "lrswikxte", MailExact: true,
		MailNote: "on every folder of the mailbox; no a: changing permissions is Exchange's separate ChangePermission right",
		DAV:      []string{PrivRead, PrivWrite}, DAVExact: true, DAVNote: "on every calendar and address book of the mailbox"},
	{Name: "SendAs", Kind: KindMailbox, MailNote: "not an access right: a manual action in the mail server (see ManualInstruction)",
		DAVNote: "not an access right: a manual action in the mail server (see ManualInstruction)"},
	{Name: "SendOnBehalf", Kind: KindMailbox, MailNote: "not an access right: a manual action in the mail server (see ManualInstruction)",
		DAVNote: "not an access right: a manual action in the mail server (see ManualInstruction)"},
}

var byName = map[string]*Row{}

func init() {
	for i := range rows {
		byName[strings.ToLower(rows[i].Name)] = &rows[i]
	}
	// A folder role is the union of its rights; its notes are theirs, without repeats.
	for i := range rows {
		r := &rows[i]
		if len(r.Rights) == 0 {
			continue
		}
		m := combine(r.Rights)
		r.IMAP, r.MailExact, r.MailNote = m.imap, m.mailExact, m.mailNote
		r.DAV, r.DAVExact, r.DAVNote = m.dav, m.davExact, m.davNote
	}
}

// names Graph and CSV exports use for the same role or right.
var aliases = map[string]string{
	"freebusytimeonly":                  "AvailabilityOnly",
	"freebusytimeandsubjectandlocation": "LimitedDetails",
	"sendonbehalfto":                    "SendOnBehalf",
	"grantsendonbehalfto":               "SendOnBehalf",
	"noneditingauthor":                  "NonEditingAuthor",
}

// lookup finds a row by name, case-insensitively; a folder role and a Graph role that
// differ only in case (None/none) are the same mapping anyway.
func lookup(name string) (*Row, bool) {
	name = strings.TrimSpace(name)
	if a, ok := aliases[strings.ToLower(name)]; ok {
		name = a
	}
	r, ok := byName[strings.ToLower(name)]
	return r, ok
}

type mapping struct {
	imap      string
	mailExact bool
	mailNote  string
	dav       []string
	davExact  bool
	davNote   string
}

// combine maps a list of role or right names to the union of their rows. An unknown name
// grants nothing and makes the result inexact.
func combine(names []string) mapping {
	m := mapping{mailExact: true, davExact: true}
	var imap strings.Builder
	var mailNotes, davNotes []string
	var dav []string
	has := map[string]bool{}
	for _, n := range names {
		if r, ok := lookup(n); ok {
			has[r.Name] = true
		}
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			continue
		}
		r, ok := lookup(n)
		// An owned-items right adds nothing to its all-items counterpart.
		if ok && (r.Name == "EditOwnedItems" && has["EditAllItems"] || r.Name == "DeleteOwnedItems" && has["DeleteAllItems"]) {
			continue
		}
		if !ok {
			m.mailExact, m.davExact = false, false
			mailNotes = appendNote(mailNotes, fmt.Sprintf("unknown right %q: not carried", n))
			davNotes = appendNote(davNotes, fmt.Sprintf("unknown right %q: not carried", n))
			continue
		}
		imap.WriteString(r.IMAP)
		dav = append(dav, r.DAV...)
		m.mailExact = m.mailExact && r.MailExact
		if !r.MailExact {
			mailNotes = appendNote(mailNotes, r.MailNote)
		}
		davExact := r.DAVExact || r.Name == "CreateItems" && has["EditAllItems"] // write-content is there anyway
		m.davExact = m.davExact && davExact
		if !davExact {
			davNotes = appendNote(davNotes, r.DAVNote)
		}
	}
	m.imap = canonical(imap.String())
	m.dav = collapse(dav)
	m.mailNote = strings.Join(mailNotes, "; ")
	m.davNote = strings.Join(davNotes, "; ")
	return m
}

func appendNote(notes []string, n string) []string {
	if n == "" || slices.Contains(notes, n) {
		return notes
	}
	return append(notes, n)
}

// rightsOrder is RFC 4314's order of rights, then Cyrus's n (annotate) and 9 (its
// CalDAV read-free-busy right).
const rightsOrder = "lrswipkxtean9"

// canonical sorts rights in rightsOrder and removes repeats; letters outside rightsOrder are
// dropped.
func canonical(rights string) string {
	var b strings.Builder
	for _, c := range rightsOrder {
		if strings.ContainsRune(rights, c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// collapse removes repeated privileges, folds the parts of write and all into them, and
// returns them in a fixed order.
func collapse(privs []string) []string {
	set := map[string]bool{}
	for _, p := range privs {
		set[p] = true
	}
	if set[PrivWriteContent] && set[PrivWriteProps] && set[PrivBind] && set[PrivUnbind] {
		set[PrivWrite] = true
	}
	if set[PrivWrite] {
		delete(set, PrivWriteContent)
		delete(set, PrivWriteProps)
		delete(set, PrivBind)
		delete(set, PrivUnbind)
	}
	if set[PrivRead] {
		delete(set, PrivReadFreeBusy) // read includes it (RFC 4791 §6.1.1)
	}
	if set[PrivReadACL] && set[PrivWriteACL] && set[PrivRead] && set[PrivWrite] {
		set = map[string]bool{PrivAll: true}
	}
	var out []string
	for _, p := range []string{PrivAll, PrivRead, PrivReadFreeBusy, PrivWrite, PrivWriteContent, PrivWriteProps, PrivBind, PrivUnbind, PrivReadACL, PrivWriteACL} {
		if set[p] {
			out = append(out, p)
		}
	}
	return out
}

// shareLevel is the simple sharing level privileges amount to: write when events can be
// both created and changed, read when they can be read, freebusy, else none.
func shareLevel(privs []string) string {
	has := func(p string) bool { return slices.Contains(privs, p) }
	switch {
	case has(PrivAll) || has(PrivWrite) || (has(PrivRead) && has(PrivWriteContent) && has(PrivBind)):
		return ShareWrite
	case has(PrivRead):
		return ShareRead
	case has(PrivReadFreeBusy):
		return ShareFreeBusy
	}
	return ShareNone
}

// cyrusLetters are the rights Cyrus's DAV layer reads on a collection's mailbox for each
// privilege (imap/http_dav.h, DACL_*), narrowed where Cyrus's aggregate would grant more
// than the privilege means on a calendar: bind is add-resource (p) without
// make-collection (k), unbind is remove-resource (t e) without remove-collection (x).
var cyrusLetters = map[string]string{
	PrivRead:         "lr",
	PrivReadFreeBusy: "9",
	PrivWriteContent: "i",
	PrivWriteProps:   "wn",
	PrivBind:         "p",
	PrivUnbind:       "te",
	PrivWrite:        "iwnpte",
	PrivReadACL:      "a",
	PrivWriteACL:     "a",
	PrivAll:          "lrwinkpxtea",
}

// CyrusDAVRights returns the IMAP rights that give privileges on a Cyrus calendar or
// address book, which Cyrus keeps as an IMAP mailbox (user/<owner>/#calendars/<name>):
// read = lr, read-free-busy = 9, write-content = i, write-properties = wn, bind = p,
// unbind = te, read-acl/write-acl = a, all = Cyrus's whole DAV:all (lrwinkpxtea).
func CyrusDAVRights(privileges []string) string {
	var b strings.Builder
	for _, p := range privileges {
		b.WriteString(cyrusLetters[p])
	}
	return canonical(b.String())
}
