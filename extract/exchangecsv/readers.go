package exchangecsv

import (
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// Canonical spellings, by lower-case name.
var (
	folderRoles = canon("Owner", "PublishingEditor", "Editor", "PublishingAuthor", "Author", "NonEditingAuthor",
		"Reviewer", "Contributor", "AvailabilityOnly", "LimitedDetails", "None")
	folderRights = canon("ReadItems", "CreateItems", "EditOwnedItems", "DeleteOwnedItems", "EditAllItems",
		"DeleteAllItems", "CreateSubfolders", "FolderOwner", "FolderContact", "FolderVisible",
		"FreeBusyTimeOnly", "FreeBusyTimeAndSubjectAndLocation")
	// Exchange 2010 printed the two calendar roles as these rights, alone.
	freeBusyRoles = map[string]string{"freebusytimeonly": "AvailabilityOnly", "freebusytimeandsubjectandlocation": "LimitedDetails"}
	sharingFlags  = canon("Delegate", "CanViewPrivateItems", "None")
	mailboxRights = canon("FullAccess", "SendAs", "ExternalAccount", "DeleteItem", "ReadPermission",
		"ChangePermission", "ChangeOwner")
)

func canon(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}

// Well-known folder names, in English and French, that make a folder permission a
// calendar or contacts grant. The whole subtree counts: Exchange keeps secondary
// calendars under Calendar. An export with a FolderType or ContainerClass column (from
// Get-MailboxFolderStatistics) is decided by it instead, whatever the language.
var (
	calendarFolders = map[string]bool{"calendar": true, "calendrier": true}
	contactFolders  = map[string]bool{"contacts": true}
)

// splitList splits a rights or flags list however it was exported: "{Reviewer}",
// "ReadItems, CreateItems", "ReadItems,CreateItems", "ReadItems;CreateItems" or
// "ReadItems CreateItems" (PowerShell's own join inside a string). Names have no spaces.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "{")
	s = strings.TrimSuffix(s, "}")
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
}

// notJoined recognises a multi-valued property exported without -join: Export-Csv then
// writes the .NET type name instead of the values.
func notJoined(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "System.") || strings.HasPrefix(s, "Microsoft.Exchange.") || strings.HasPrefix(s, "Deserialized.")
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "$true":
		return true, true
	case "false", "0", "no", "$false", "":
		return false, true
	}
	return false, false
}

func (e *Export) require(t *table, cols ...string) bool {
	if len(t.rows) == 0 && len(t.columns) == 0 {
		return false
	}
	var missing []string
	for _, c := range cols {
		if !t.has(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.problem(0, "no %s column (header read as %q): the file is skipped", strings.Join(missing, ", "), strings.Join(keys(t.columns), ","))
		return false
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// owner resolves the mailbox a line is about; false (with a problem) when it is not a
// mailbox of mailboxes.csv nor an address.
func (e *Export) owner(t *table, r row, raw, what string) (string, bool) {
	if raw == "" {
		t.problem(r.line, "no %s: the line is skipped", what)
		return "", false
	}
	addr, res := e.res.lookup(raw)
	switch res {
	case resolved, looksLikeAddress:
		return addr, true
	case ambiguous:
		t.problem(r.line, "%s %q names several mailboxes of %s: the line is skipped (export with PrimarySmtpAddress instead)", what, raw, FileMailboxes)
	default:
		t.problem(r.line, "%s %q is not a mailbox of %s: the line is skipped%s", what, raw, FileMailboxes, encodingHint(t, raw))
	}
	return "", false
}

// grantee resolves a delegate. skip is set for Exchange's own entries (SELF, system
// accounts), which are not delegations. An unresolvable delegate is kept as written (the
// model's rule for groups and orphaned SIDs) and reported.
func (e *Export) grantee(t *table, line int, raw, owner string) (g string, skip bool) {
	l := strings.ToLower(strings.TrimSpace(raw))
	if raw == "" {
		t.problem(line, "no delegate named: the line is skipped")
		return "", true
	}
	if selfPrincipals[l] || isSystem(raw) {
		return "", true
	}
	addr, res := e.res.lookup(raw)
	switch res {
	case resolved, looksLikeAddress:
		return addr, false
	case ambiguous:
		t.problem(line, "delegate %q of %s names several mailboxes of %s: kept as written, to be granted by hand", raw, owner, FileMailboxes)
	default:
		switch {
		case isSID(raw):
			// Folder permissions write "NT:S-1-5-21-…", the others the bare SID: one form.
			sid := strings.TrimSpace(raw)
			if len(sid) > 3 && strings.EqualFold(sid[:3], "NT:") {
				sid = sid[3:]
			}
			t.problem(line, "delegate %q of %s is an orphaned SID (a deleted user): kept as %s, to be removed or granted by hand", raw, owner, sid)
			return sid, false
		default:
			t.problem(line, "delegate %q of %s is not a mailbox of %s (a group? an external user?): kept as written, to be granted by hand%s",
				raw, owner, FileMailboxes, encodingHint(t, raw))
		}
	}
	return strings.TrimSpace(raw), false
}

// encodingHint explains a name spoilt by Windows PowerShell's default ASCII Export-Csv,
// which writes "?" for every accented letter.
func encodingHint(t *table, raw string) string {
	if strings.Contains(raw, "?") {
		return " (a \"?\" in a name: exported without -Encoding UTF8?)"
	}
	return ""
}

func (e *Export) readMailboxes(t *table) []pending {
	if !e.require(t, "primarysmtpaddress") {
		return nil
	}
	seen := map[string]bool{}
	type line struct {
		row
		addr string
	}
	var lines []line
	for _, r := range t.rows {
		addr := smtpPrefix.ReplaceAllString(r.get("primarysmtpaddress"), "")
		if !isAddress(addr) {
			t.problem(r.line, "PrimarySmtpAddress %q is not an address: the mailbox is skipped", addr)
			continue
		}
		for _, c := range identityColumns {
			e.res.add(r.get(c), addr)
		}
		for _, a := range strings.FieldsFunc(r.get("emailaddresses"), func(c rune) bool { return c == ';' || c == ' ' || c == ',' }) {
			if p, v, ok := strings.Cut(a, ":"); ok && strings.EqualFold(p, "smtp") && isAddress(v) {
				e.res.add(v, addr)
			}
		}
		lines = append(lines, line{r, addr})
		if seen[strings.ToLower(addr)] {
			continue
		}
		seen[strings.ToLower(addr)] = true
		e.mailboxes = append(e.mailboxes, Mailbox{Address: addr, Identity: r.get("identity"), Name: r.get("name"),
			Alias: r.get("alias"), DisplayName: r.get("displayname"), UPN: r.get("userprincipalname"),
			RecipientTypeDetails: r.get("recipienttypedetails")})
	}
	var out []pending
	for _, l := range lines {
		if v := l.get("grantsendonbehalfto"); v != "" {
			out = append(out, pending{t: t, line: l.line, owner: l.addr, raw: v})
		}
	}
	return out
}

// pending is a GrantSendOnBehalfTo value, resolved once every file is read.
type pending struct {
	t          *table
	line       int
	owner, raw string
}

func (p pending) resolve(e *Export) {
	// A table of its own: the file's other problems are already in e.problems.
	t := &table{name: p.t.name}
	defer func() { e.problems = append(e.problems, t.messages()...) }()
	if notJoined(p.raw) {
		t.problem(p.line, "GrantSendOnBehalfTo of %s reads %q: exported without joining the values (see the README command); to be checked by hand", p.owner, p.raw)
		return
	}
	for _, name := range strings.Split(strings.Trim(p.raw, "{}"), ";") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		g, skip := e.grantee(t, p.line, name, p.owner)
		if skip {
			continue
		}
		e.grants = append(e.grants, model.Grant{Owner: p.owner, Grantee: g, Scope: model.ScopeSendOnBehalf,
			Role: "SendOnBehalf", Origin: origin(t, p.line, "Get-Mailbox")})
	}
}

func (e *Export) readMailboxPermissions(t *table) {
	if !e.require(t, "identity", "user", "accessrights") {
		return
	}
	for _, r := range t.rows {
		user := r.get("user")
		if selfPrincipals[strings.ToLower(user)] || isSystem(user) {
			continue
		}
		owner, ok := e.owner(t, r, r.get("identity"), "Identity")
		if !ok {
			continue
		}
		deny, ok := parseBool(r.get("deny"))
		if !ok {
			t.problem(r.line, "Deny %q is neither True nor False: the line is skipped", r.get("deny"))
			continue
		}
		if notJoined(r.get("accessrights")) {
			t.problem(r.line, "AccessRights reads %q: exported without joining the values (see the README command); the line is skipped", r.get("accessrights"))
			continue
		}
		rights := splitList(r.get("accessrights"))
		if len(rights) == 0 {
			t.problem(r.line, "no AccessRights: the line is skipped")
			continue
		}
		grantee, skip := e.grantee(t, r.line, user, owner)
		if skip {
			continue
		}
		for _, right := range rights {
			c, known := mailboxRights[strings.ToLower(right)]
			g := model.Grant{Owner: owner, Grantee: grantee, Scope: model.ScopeMailbox, Role: c, Deny: deny,
				Origin: origin(t, r.line, "Get-MailboxPermission")}
			switch {
			case !known:
				g.Role = right
				t.problem(r.line, "mailbox right %q of %s on %s is not one Exchange documents: kept as Role, to be checked by hand", right, grantee, owner)
			case c == "SendAs":
				g.Scope = model.ScopeSendAs
			case c != "FullAccess":
				// ReadPermission, ChangeOwner, …: rights on the mailbox's security
				// descriptor, not access to its content; no target has them.
				g.Origin += " (" + c + ": a right on the mailbox object, not on its content)"
			}
			e.grants = append(e.grants, g)
		}
	}
}

func (e *Export) readRecipientPermissions(t *table) {
	if !e.require(t, "identity", "trustee") {
		return
	}
	for _, r := range t.rows {
		trustee := r.get("trustee")
		if selfPrincipals[strings.ToLower(trustee)] || isSystem(trustee) {
			continue
		}
		owner, ok := e.owner(t, r, r.get("identity"), "Identity")
		if !ok {
			continue
		}
		deny := false
		switch act := strings.ToLower(r.get("accesscontroltype")); act {
		case "", "allow":
		case "deny":
			deny = true
		default:
			t.problem(r.line, "AccessControlType %q is neither Allow nor Deny: the line is skipped", r.get("accesscontroltype"))
			continue
		}
		raw := r.get("accessrights")
		if notJoined(raw) {
			t.problem(r.line, "AccessRights reads %q: exported without joining the values (see the README command); the line is skipped", raw)
			continue
		}
		rights := splitList(raw)
		if !t.has("accessrights") {
			rights = []string{"SendAs"} // the only right Get-RecipientPermission knows
		}
		grantee, skip := e.grantee(t, r.line, trustee, owner)
		if skip {
			continue
		}
		for _, right := range rights {
			if !strings.EqualFold(right, "SendAs") {
				t.problem(r.line, "recipient right %q of %s on %s is not SendAs: not carried, to be checked by hand", right, grantee, owner)
				continue
			}
			e.grants = append(e.grants, model.Grant{Owner: owner, Grantee: grantee, Scope: model.ScopeSendAs, Role: "SendAs",
				Deny: deny, Origin: origin(t, r.line, "Get-RecipientPermission")})
		}
		if len(rights) == 0 {
			t.problem(r.line, "no AccessRights: the line is skipped")
		}
	}
}

func (e *Export) readFolderPermissions(t *table) {
	if !e.require(t, "identity", "user", "accessrights") {
		return
	}
	for _, r := range t.rows {
		id := r.get("identity")
		ownerPart, path, ok := strings.Cut(id, `:\`)
		if !ok {
			t.problem(r.line, "Identity %q is not of the form mailbox:\\Folder: the line is skipped", id)
			continue
		}
		owner, ok := e.owner(t, r, ownerPart, "mailbox")
		if !ok {
			continue
		}
		var segs []string
		for _, s := range strings.Split(path, `\`) {
			if s = strings.TrimSpace(s); s != "" {
				// FolderPath (Get-MailboxFolderStatistics) writes a "/" inside a folder
				// name as U+F8FF; the README command turns its "/" separators into "\".
				segs = append(segs, strings.ReplaceAll(s, "\uf8ff", "/"))
			}
		}
		g := model.Grant{Owner: owner, Scope: folderScope(segs, r), FolderPath: strings.Join(segs, "/"),
			Origin: origin(t, r.line, "Get-MailboxFolderPermission")}

		user := r.get("user")
		switch {
		case strings.EqualFold(user, model.GranteeDefault):
			g.Grantee = model.GranteeDefault
		case strings.EqualFold(user, model.GranteeAnonymous):
			g.Grantee = model.GranteeAnonymous
		default:
			grantee, skip := e.grantee(t, r.line, user, owner)
			if skip {
				continue
			}
			g.Grantee = grantee
		}

		raw := r.get("accessrights")
		if notJoined(raw) {
			t.problem(r.line, "AccessRights reads %q: exported without joining the values (see the README command); the line is skipped", raw)
			continue
		}
		toks := splitList(raw)
		switch {
		case len(toks) == 0:
			t.problem(r.line, "no AccessRights: the line is skipped")
			continue
		case len(toks) == 1 && folderRoles[strings.ToLower(toks[0])] != "":
			g.Role = folderRoles[strings.ToLower(toks[0])]
		case len(toks) == 1 && freeBusyRoles[strings.ToLower(toks[0])] != "":
			g.Role = freeBusyRoles[strings.ToLower(toks[0])]
		default:
			// Exchange shows no role name for a custom set of rights.
			g.Role = "Custom"
			for _, tok := range toks {
				c, ok := folderRights[strings.ToLower(tok)]
				if !ok {
					c = tok
					t.problem(r.line, "folder right %q of %s on %s:\\%s is not one Exchange documents: kept, to be checked by hand",
						tok, g.Grantee, owner, strings.Join(segs, `\`))
				}
				g.Rights = append(g.Rights, c)
			}
		}
		if f := r.get("sharingpermissionflags"); f != "" && !notJoined(f) {
			for _, tok := range splitList(f) {
				c, ok := sharingFlags[strings.ToLower(tok)]
				switch {
				case !ok:
					t.problem(r.line, "sharing flag %q is not one Exchange documents: ignored", tok)
				case c != "None":
					g.Flags = append(g.Flags, c)
				}
			}
		}
		e.grants = append(e.grants, g)
	}
}

// folderScope says whether a folder is a calendar, a contacts folder or a mail folder.
func folderScope(segs []string, r row) model.GrantScope {
	ft := strings.ToLower(r.get("foldertype"))
	cc := strings.ToLower(r.get("containerclass"))
	// FolderType names only the default folders ("User Created" for a secondary
	// calendar); ContainerClass names every folder's kind.
	switch {
	case ft == "calendar" || strings.HasPrefix(cc, "ipf.appointment"):
		return model.ScopeCalendar
	case ft == "contacts" || strings.HasPrefix(cc, "ipf.contact"):
		return model.ScopeContacts
	case cc != "":
		return model.ScopeFolder
	}
	if len(segs) == 0 {
		return model.ScopeFolder
	}
	switch top := strings.ToLower(segs[0]); {
	case calendarFolders[top]:
		return model.ScopeCalendar
	case contactFolders[top]:
		return model.ScopeContacts
	}
	return model.ScopeFolder
}
