package acl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// IMAP returns the RFC 4314 rights that carry g, exact when they grant what Exchange
// granted (never more: when they cannot be equal they grant less), and a note saying what
// differs or what to know. rights is "" when nothing is to be set.
//
// For ScopeFolder and ScopeMailbox the rights are for mail folders (ScopeMailbox: for every
// folder of the mailbox). For ScopeCalendar and ScopeContacts they are the rights that give
// the DAV privileges of DAV(g) on a Cyrus collection's mailbox (see CyrusDAVRights): on
// Cyrus an IMAP SETACL shares a calendar. SendAs and SendOnBehalf grant nothing: see
// ManualInstruction.
func IMAP(g model.Grant) (rights string, exact bool, note string) {
	if reason, ok := refused(g); ok {
		return "", false, reason
	}
	switch g.Scope {
	case model.ScopeCalendar, model.ScopeContacts:
		privs, exact, note := davPrivileges(g)
		return CyrusDAVRights(privs), exact, note
	case model.ScopeSendAs, model.ScopeSendOnBehalf:
		return "", false, "not an access right: a manual action in the mail server (see ManualInstruction)"
	case model.ScopeMailbox:
		if r, ok := lookup(g.Role); !ok || r.Kind != KindMailbox {
			return "", false, fmt.Sprintf("mailbox right %q has no IMAP equivalent: not carried", g.Role)
		}
	}
	m, ok := mapGrant(g)
	if !ok {
		return "", false, fmt.Sprintf("unknown role %q: not carried", g.Role)
	}
	return m.imap, m.mailExact, m.mailNote
}

// DAV returns the RFC 3744 privileges (with CalDAV's read-free-busy) that carry g on a
// calendar or address book, the simple sharing level they amount to (ShareNone,
// ShareFreeBusy, ShareRead, ShareWrite), and exact/note as IMAP does. A mail-folder grant has
// no DAV form (nil, ShareNone, true, note).
func DAV(g model.Grant) (privileges []string, share string, exact bool, note string) {
	privileges, exact, note = davPrivileges(g)
	share = shareLevel(privileges)
	if share == ShareNone && len(privileges) > 0 {
		note = joinNotes(note, "a sharing level cannot express these privileges: none where the server only shares by level")
	}
	return privileges, share, exact, note
}

func davPrivileges(g model.Grant) (privileges []string, exact bool, note string) {
	if reason, ok := refused(g); ok {
		return nil, false, reason
	}
	switch g.Scope {
	case model.ScopeFolder:
		return nil, true, "a mail folder: no DAV collection"
	case model.ScopeSendAs, model.ScopeSendOnBehalf:
		return nil, false, "not an access right: a manual action in the mail server (see ManualInstruction)"
	case model.ScopeMailbox:
		if r, ok := lookup(g.Role); !ok || r.Kind != KindMailbox {
			return nil, false, fmt.Sprintf("mailbox right %q has no DAV equivalent: not carried", g.Role)
		}
	}
	m, ok := mapGrant(g)
	if !ok {
		return nil, false, fmt.Sprintf("unknown role %q: not carried", g.Role)
	}
	privileges, exact, note = m.dav, m.davExact, m.davNote
	if g.Scope == model.ScopeContacts && slices.Contains(privileges, PrivReadFreeBusy) {
		// Address books have no free/busy.
		privileges = slices.DeleteFunc(slices.Clone(privileges), func(p string) bool { return p == PrivReadFreeBusy })
		exact, note = true, "free/busy has no meaning on an address book: nothing granted"
	}
	// Exchange hides private events from folder-permission holders and from delegates
	// without CanViewPrivateItems; CalDAV sharing does not.
	if g.Scope == model.ScopeCalendar && slices.ContainsFunc(privileges, func(p string) bool { return p == PrivRead || p == PrivAll }) &&
		!hasFlag(g.Flags, "CanViewPrivateItems") && !strings.EqualFold(g.Role, "delegateWithPrivateEventAccess") &&
		!strings.EqualFold(g.Role, "FullAccess") && !strings.Contains(note, notePrivate) {
		exact = false
		note = joinNotes(note, notePrivate)
	}
	return privileges, exact, note
}

// refused says why a grant is not carried at all, whatever its role.
func refused(g model.Grant) (string, bool) {
	switch {
	case g.Deny:
		return "an explicit deny: Bascule writes no negative rights; nothing granted (make sure the grantee gets no access through another entry)", true
	case strings.EqualFold(g.Grantee, model.GranteeAnonymous):
		return "anonymous access is never granted on the target", true
	}
	return "", false
}

// mapGrant maps a grant's role, or its custom rights when it has them (a rights list may
// name roles too).
func mapGrant(g model.Grant) (mapping, bool) {
	if len(g.Rights) > 0 {
		return combine(g.Rights), true
	}
	role := strings.TrimSpace(g.Role)
	if role == "" {
		return combine(nil), true // no rights at all
	}
	// A CSV cell may list several roles or rights ("Reviewer, CreateItems").
	parts := strings.FieldsFunc(strings.Trim(role, "{}"), func(r rune) bool { return r == ',' || r == ';' })
	if len(parts) > 1 {
		return combine(parts), true
	}
	r, ok := lookup(role)
	if !ok {
		return mapping{}, false
	}
	return mapping{imap: r.IMAP, mailExact: r.MailExact, mailNote: r.MailNote,
		dav: r.DAV, davExact: r.DAVExact, davNote: r.DAVNote}, true
}

func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), f) })
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Normalize returns rights as a set in a canonical order, for comparing what a server
// reports (GETACL, MYRIGHTS) with what was set. The obsolete RFC 2086 rights c and d that
// Dovecot and Cyrus add to what they report (c when k is held, d when t and e are) are
// dropped: Bascule never sets them, and RFC 4314 §2.1.1 lets servers tie them to different
// sets of the new rights. Unknown letters are dropped too.
func Normalize(rights string) string { return canonical(rights) }

// ManualInstruction returns, in English, what an administrator must do by hand to carry a
// SendAs or SendOnBehalf grant to the target (no IMAP or DAV right expresses either), with
// the example of Dovecot behind Postfix. targetLogin is the owner's login on the target,
// granteeLogin the delegate's. For any other grant it returns a generic instruction to
// give the rights of the role by hand.
func ManualInstruction(g model.Grant, targetLogin, granteeLogin string) string {
	owner := g.Owner
	if owner == "" {
		owner = targetLogin
	}
	switch {
	case g.Scope == model.ScopeSendAs || strings.EqualFold(g.Role, "SendAs"):
		return fmt.Sprintf("Allow %[1]s to send mail with %[2]s as the From address. With Postfix in front of Dovecot: "+
			"add %[2]s (and every other address of the mailbox) to the logins allowed for it in smtpd_sender_login_maps, "+
			"e.g. the line \"%[2]s %[3]s, %[1]s\" in the map file (then postmap it), with "+
			"smtpd_sender_restrictions = reject_sender_login_mismatch (or reject_authenticated_sender_login_mismatch).",
			granteeLogin, owner, targetLogin)
	case g.Scope == model.ScopeSendOnBehalf || strings.EqualFold(g.Role, "SendOnBehalf"):
		return fmt.Sprintf("Allow %[1]s to send on behalf of %[2]s: messages carry From: %[2]s and Sender: %[1]s's own address. "+
			"SMTP has no separate \"on behalf\" right, so with Postfix in front of Dovecot this is the same entry as send-as: "+
			"add the line \"%[2]s %[3]s, %[1]s\" to smtpd_sender_login_maps (then postmap it) with "+
			"smtpd_sender_restrictions = reject_sender_login_mismatch, and ask the delegate's mail client to set the Sender header.",
			granteeLogin, owner, targetLogin)
	}
	rights, _, note := IMAP(g)
	what := g.FolderPath
	if what == "" {
		what = string(g.Scope)
	}
	s := fmt.Sprintf("Give %s the equivalent of the Exchange role %q on %s's %s by hand", granteeLogin, g.Role, targetLogin, what)
	if rights != "" {
		s += fmt.Sprintf(" (IMAP rights %q)", rights)
	}
	if note != "" {
		s += ": " + note
	}
	return s + "."
}
