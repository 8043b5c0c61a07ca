package model

import "time"

// GrantScope says what a Grant covers.
type GrantScope string

const (
	// ScopeMailbox: the whole mailbox (Exchange FullAccess).
	ScopeMailbox GrantScope = "mailbox"
	// ScopeFolder: one mail folder (Get-MailboxFolderPermission on a mail folder).
	ScopeFolder GrantScope = "folder"
	// ScopeCalendar: one calendar (Graph calendarPermission, or a folder permission on a
	// calendar folder).
	ScopeCalendar GrantScope = "calendar"
	// ScopeContacts: one contact folder (folder permission on a contacts folder).
	ScopeContacts GrantScope = "contacts"
	// ScopeSendAs: send as the owner (Get-RecipientPermission SendAs).
	ScopeSendAs GrantScope = "sendas"
	// ScopeSendOnBehalf: send on behalf of the owner (GrantSendOnBehalfTo).
	ScopeSendOnBehalf GrantScope = "sendonbehalf"
)

// Special grantees of folder permissions.
const (
	GranteeDefault   = "Default"   // every authenticated user of the organisation
	GranteeAnonymous = "Anonymous" // unauthenticated (external) users
)

// Grant is one right an owner gives to somebody on (part of) the owner's mailbox.
type Grant struct {
	// Owner is the source address of the mailbox that grants.
	Owner string
	// Grantee is the address of the delegate, or GranteeDefault / GranteeAnonymous. A group
	// or an unresolvable identity (an orphaned SID) is kept as the source wrote it.
	Grantee string
	// Group is set when the source knows the grantee is a group (a distribution or
	// mail-enabled security group): its members' rights cannot be written as one login's.
	Group bool
	Scope GrantScope
	// FolderPath is the "/"-joined display path of the folder for ScopeFolder (e.g.
	// "Boîte de réception/Projets"); FolderID the source folder id when known. For
	// ScopeCalendar/ScopeContacts the collection's id (Graph) or path (CSV).
	FolderPath string
	FolderID   string
	// Role is the role as the source names it: an Exchange folder role (Owner,
	// PublishingEditor, Editor, PublishingAuthor, Author, NonEditingAuthor, Reviewer,
	// Contributor, AvailabilityOnly, LimitedDetails, None), a Graph calendarRoleType (read,
	// write, delegateWithPrivateEventAccess, …), or FullAccess / SendAs / SendOnBehalf.
	Role string
	// Rights are the individual Exchange rights when the role is custom (e.g. ReadItems,
	// CreateItems, EditOwnedItems, FolderVisible), else empty.
	Rights []string
	// Flags are Exchange sharing flags (Delegate, CanViewPrivateItems) when present.
	Flags []string
	// Deny is set on an explicit deny entry (Get-MailboxPermission Deny=True).
	Deny bool
	// Origin names where the grant was read, for reports (e.g. "graph calendarPermissions",
	// "Get-MailboxFolderPermission.csv line 12").
	Origin string
}

// Rule is one inbox rule as the source gives it.
type Rule struct {
	ID       string
	Name     string
	Sequence int
	Enabled  bool
	// Payload is the Graph messageRule JSON (conditions, exceptions, actions).
	Payload []byte
}

// AutoReply is the out-of-office setting of a mailbox (Graph automaticRepliesSetting).
type AutoReply struct {
	// Status is "disabled", "alwaysEnabled" or "scheduled".
	Status string
	// ExternalAudience is "none", "contactsOnly" or "all".
	ExternalAudience string
	// Start and End bound a scheduled reply (zero when not scheduled).
	Start, End time.Time
	// InternalReply and ExternalReply are the messages (HTML as Exchange stores them).
	InternalReply, ExternalReply string
}

// MailboxSettings is what a mailbox carries besides its items.
type MailboxSettings struct {
	// Purpose is Graph's userPurpose: user, shared, room, equipment, …
	Purpose string
	// TimeZone is the mailbox's time zone (Windows id as Graph gives it); Language its
	// locale (e.g. "fr-FR").
	TimeZone, Language string
	// Grants the source exposes itself (Graph: calendarPermissions of each calendar).
	Grants    []Grant
	Rules     []Rule
	AutoReply *AutoReply
}

// ManualAction is something the migration could not carry and an administrator must do,
// with the exact instruction.
type ManualAction struct {
	Mailbox     string `json:"mailbox"`
	What        string `json:"what"`        // e.g. "SendAs for bob@contoso.com"
	Why         string `json:"why"`         // e.g. "Dovecot has no send-as right"
	Instruction string `json:"instruction"` // e.g. "allow bob to send as alice in the MTA's sender login map"
}
