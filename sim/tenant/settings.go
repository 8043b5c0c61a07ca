package tenant

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// Origins of the grants Grants and ExchangeGrants return. The CSV ones name the file the
// sim/exchangecsv generator writes (a reader adds the line number).
const (
	OriginGraph          = "graph calendarPermissions"
	OriginMailboxPerms   = "mailbox-permissions.csv"
	OriginRecipientPerms = "recipient-permissions.csv"
	OriginMailboxes      = "mailboxes.csv"
	OriginFolderPerms    = "folder-permissions.csv"
	myOrganizationName   = "My Organization"
	myOrganizationID     = "RGVmYXVsdA==" // base64("Default"), as Exchange Online shows it
	graphTimeZoneUTC     = "UTC"
	roleNone             = "None"
	// RoleCustom is the Role of a folder grant given as a list of individual rights.
	RoleCustom             = "Custom"
	exchangeAdministrative = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
)

// CalendarPermission is one Graph calendarPermission of a calendar the mailbox owns.
type CalendarPermission struct {
	ID string
	// Name and Address are emailAddress{name,address}; Address is "" for the built-in
	// "My Organization" entry (Graph sends no address for it).
	Name, Address        string
	IsInsideOrganization bool
	IsRemovable          bool
	AllowedRoles         []string
	Role                 string // Graph calendarRoleType
}

// Principal kinds of an ExchangePermission grantee.
const (
	PrincipalUser      = "user"      // a mailbox of the tenant
	PrincipalGroup     = "group"     // a mail-enabled security group
	PrincipalSID       = "sid"       // an orphaned SID (the account was deleted)
	PrincipalDefault   = "default"   // folder permission "Default"
	PrincipalAnonymous = "anonymous" // folder permission "Anonymous"
	PrincipalExternal  = "external"  // an address outside the tenant
)

// Principal is who an Exchange permission is given to.
type Principal struct {
	Kind string
	// Address is the primary SMTP address (users, groups, externals); Name the Exchange
	// Name (what Identity columns and GrantSendOnBehalfTo show: an alias or a display
	// name); DisplayName what folder permissions show; SID the SID of a PrincipalSID.
	Address, Name, DisplayName, SID string
}

// Kinds of ExchangePermission.
const (
	PermFullAccess   = "FullAccess"   // Get-MailboxPermission
	PermSendAs       = "SendAs"       // Get-RecipientPermission
	PermSendOnBehalf = "SendOnBehalf" // Get-Mailbox GrantSendOnBehalfTo
	PermFolder       = "Folder"       // Get-MailboxFolderPermission
)

// Folder classes of a folder ExchangePermission.
const (
	FolderMail     = "mail"
	FolderCalendar = "calendar"
	FolderContacts = "contacts"
)

// ExchangePermission is one entry the Exchange PowerShell cmdlets show for a mailbox (and
// sim/exchangecsv writes): most of them Graph does not expose at all; the folder rows of
// calendar folders repeat, in Exchange's vocabulary, what calendarPermissions says (Mirror).
type ExchangePermission struct {
	Kind    string // PermFullAccess, PermSendAs, PermSendOnBehalf or PermFolder
	Grantee Principal
	// Folder permissions: the folder's display path (top-level first), its class, and the
	// Exchange role (Owner, Reviewer…) or, for a custom set, the individual rights.
	FolderPath  []string
	FolderClass string
	Role        string
	Rights      []string
	// SharingFlags are the calendar delegate flags ("Delegate", "CanViewPrivateItems").
	SharingFlags []string
	Deny         bool
	// Mirror marks a calendar folder row that only restates a Graph calendarPermission.
	Mirror bool
}

// messageRule is one inbox rule: its head and its Graph JSON.
type messageRule struct {
	id, name string
	sequence int
	enabled  bool
	payload  []byte // compact Graph messageRule JSON, served as is
}

// settings is what a mailbox carries besides its items.
type settings struct {
	name     string // the Exchange Name (alias or display name)
	calPerms map[string][]CalendarPermission
	rules    []messageRule
	reply    model.AutoReply
	exch     []ExchangePermission
}

// TimeZone returns the mailbox's time zone as Graph names it (a Windows id).
func TimeZone(u User) string {
	if u.Language == "fr-FR" {
		return "Romance Standard Time"
	}
	return "Eastern Standard Time"
}

// calendarOwner is the user whose calendar genGroupware shares with b (nil when there is
// no other user).
func (t *Tenant) calendarOwner(b *mailbox) *mailbox {
	for i := 1; i < len(t.boxes); i++ {
		ob := t.boxes[(b.index+i)%len(t.boxes)]
		if ob.user.Purpose == "user" {
			return ob
		}
	}
	return nil
}

func (t *Tenant) regularUsers() []*mailbox {
	var out []*mailbox
	for _, b := range t.boxes {
		if b.user.Purpose == "user" {
			out = append(out, b)
		}
	}
	return out
}

var (
	rolesOrg      = []string{"none", "freeBusyRead", "limitedRead", "read"}
	rolesExternal = []string{"none", "freeBusyRead", "limitedRead", "read"}
	rolesInternal = []string{"none", "freeBusyRead", "limitedRead", "read", "write"}
	rolesDelegate = []string{"none", "freeBusyRead", "limitedRead", "read", "write", "delegateWithoutPrivateEventAccess", "delegateWithPrivateEventAccess"}
)

// Groups and the orphaned SID the Exchange permissions name.
var (
	groupAccueil = Principal{Kind: PrincipalGroup, Address: "equipe-accueil@" + domain, Name: "Équipe Accueil", DisplayName: "Équipe Accueil"}
	groupSales   = Principal{Kind: PrincipalGroup, Address: "commercial@" + domain, Name: "Commercial, Ventes & Export", DisplayName: "Commercial, Ventes & Export"}
)

func orphanSID(seed int64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "orphan/%d", seed))
	n := func(i int) uint32 { return binary.BigEndian.Uint32(h[i*4:]) }
	return fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", n(0), n(1), n(2), 1100+n(3)%8000)
}

// genSettings generates every mailbox's permissions, rules and automatic replies. It runs
// after mail and groupware and draws no change-log position, so nothing else moves.
func (t *Tenant) genSettings() {
	users := t.regularUsers()
	for _, b := range t.boxes {
		b.set = &settings{name: b.user.DisplayName, calPerms: map[string][]CalendarPermission{}}
		if b.user.Purpose == "shared" {
			// Shared mailboxes created in the admin center get their alias as Name.
			b.set.name = strings.SplitN(b.user.UPN, "@", 2)[0]
		}
	}
	for k, b := range t.boxes {
		t.genCalendarPerms(b, users)
		t.genExchangePerms(b, users)
		b.set.rules = t.genRules(b, users)
		b.set.reply = genAutoReply(b, k)
	}
}

func (t *Tenant) userPrincipal(b *mailbox) Principal {
	return Principal{Kind: PrincipalUser, Address: b.user.Mail, Name: b.set.name, DisplayName: b.user.DisplayName}
}

func (t *Tenant) permID(owner *mailbox, what string) string {
	dn := exchangeAdministrative + strings.ReplaceAll(guid(t.cfg.Seed, "recipient/"+owner.user.UPN+"/"+what), "-", "") + "-" + strings.SplitN(what, "@", 2)[0]
	return b64(dn)
}

// genCalendarPerms fills b's calendarPermissions: the default calendar has the "My
// Organization" entry, whoever genGroupware shows the calendar to (delegates among them),
// and an outside address; the second calendar one more share.
func (t *Tenant) genCalendarPerms(b *mailbox, users []*mailbox) {
	cals := b.gw.cals
	if len(cals) < 2 {
		return
	}
	def, extra := cals[0], cals[1]
	k := slices.Index(users, b) // -1 for the shared mailbox
	org := CalendarPermission{ID: myOrganizationID, Name: myOrganizationName, IsInsideOrganization: true, AllowedRoles: rolesOrg, Role: "freeBusyRead"}
	if k%2 == 1 {
		org.Role = "limitedRead"
	}
	perms := []CalendarPermission{org}
	internal := func(ob *mailbox, role string, delegates bool) CalendarPermission {
		allowed := rolesInternal
		if delegates {
			allowed = rolesDelegate
		}
		return CalendarPermission{ID: t.permID(b, ob.user.Mail), Name: ob.user.DisplayName, Address: ob.user.Mail,
			IsInsideOrganization: true, IsRemovable: true, AllowedRoles: allowed, Role: role}
	}
	if b.user.Purpose == "shared" {
		// The shared mailbox's calendar: the first user manages it as a delegate, the
		// others write to it.
		for i, ub := range users {
			role := "write"
			if i == 0 {
				role = "delegateWithoutPrivateEventAccess"
			}
			perms = append(perms, internal(ub, role, true))
		}
		b.set.calPerms[def.ID] = perms
		b.set.calPerms[extra.ID] = []CalendarPermission{org}
		return
	}
	var viewers []*mailbox
	for _, ob := range t.boxes {
		if ob != b && t.calendarOwner(ob) == b {
			viewers = append(viewers, ob)
		}
	}
	delegateRoles := []string{"delegateWithPrivateEventAccess", "delegateWithoutPrivateEventAccess", "write", "read"}
	for i, ob := range viewers {
		role := "read"
		if i == 0 && ob.user.Purpose == "user" {
			role = delegateRoles[k%len(delegateRoles)]
		}
		perms = append(perms, internal(ob, role, true))
	}
	ext := externals[k%2]
	extRole := "read"
	if k%2 == 1 {
		extRole = "freeBusyRead"
	}
	perms = append(perms, CalendarPermission{ID: b64(ext.Address), Name: ext.Name, Address: ext.Address,
		IsRemovable: true, AllowedRoles: rolesExternal, Role: extRole})
	b.set.calPerms[def.ID] = perms

	extraPerms := []CalendarPermission{org}
	if len(users) > 1 {
		next := users[(k+1)%len(users)]
		role := "limitedRead"
		if k%2 == 1 {
			role = "write"
		}
		extraPerms = append(extraPerms, internal(next, role, false))
	}
	b.set.calPerms[extra.ID] = extraPerms
}

// exchangeRole maps a Graph calendar role to the folder role Get-MailboxFolderPermission
// shows for the same entry.
func exchangeRole(graphRole string) (role string, flags []string) {
	switch graphRole {
	case "freeBusyRead":
		return "AvailabilityOnly", nil
	case "limitedRead":
		return "LimitedDetails", nil
	case "read":
		return "Reviewer", nil
	case "write":
		return "Editor", nil
	case "delegateWithoutPrivateEventAccess":
		return "Editor", []string{"Delegate"}
	case "delegateWithPrivateEventAccess":
		return "Editor", []string{"Delegate", "CanViewPrivateItems"}
	}
	return roleNone, nil
}

// genExchangePerms fills what only the Exchange cmdlets show: FullAccess, SendAs,
// SendOnBehalf and folder permissions, with Default/Anonymous rows on every folder listed,
// calendar folders restating calendarPermissions, a group, an orphaned SID and a deny.
func (t *Tenant) genExchangePerms(b *mailbox, users []*mailbox) {
	k := slices.Index(users, b)
	var out []ExchangePermission
	add := func(p ExchangePermission) { out = append(out, p) }
	var next *mailbox
	if len(users) > 1 && k >= 0 {
		next = users[(k+1)%len(users)]
	}
	// Mailbox level.
	switch {
	case b.user.Purpose == "shared":
		for _, ub := range users {
			add(ExchangePermission{Kind: PermFullAccess, Grantee: t.userPrincipal(ub)})
			add(ExchangePermission{Kind: PermSendAs, Grantee: t.userPrincipal(ub)})
		}
		add(ExchangePermission{Kind: PermFullAccess, Grantee: groupAccueil})
		add(ExchangePermission{Kind: PermSendAs, Grantee: groupAccueil})
		if len(users) > 1 {
			add(ExchangePermission{Kind: PermSendOnBehalf, Grantee: t.userPrincipal(users[1])})
		}
	case k == 0:
		if next != nil {
			add(ExchangePermission{Kind: PermFullAccess, Grantee: t.userPrincipal(next)})
			add(ExchangePermission{Kind: PermSendOnBehalf, Grantee: t.userPrincipal(next)})
		}
		add(ExchangePermission{Kind: PermFullAccess, Grantee: Principal{Kind: PrincipalSID, SID: orphanSID(t.cfg.Seed), Name: orphanSID(t.cfg.Seed)}})
	case k == 1:
		if next != nil {
			add(ExchangePermission{Kind: PermSendAs, Grantee: t.userPrincipal(next)})
		}
		add(ExchangePermission{Kind: PermFullAccess, Grantee: groupSales, Deny: true})
	}

	// Folder level, in the order Get-MailboxFolderStatistics lists folders.
	defaultRow := func(path []string, class, role string) {
		add(ExchangePermission{Kind: PermFolder, Grantee: Principal{Kind: PrincipalDefault, Name: "Default", DisplayName: "Default"}, FolderPath: path, FolderClass: class, Role: role})
		add(ExchangePermission{Kind: PermFolder, Grantee: Principal{Kind: PrincipalAnonymous, Name: "Anonymous", DisplayName: "Anonymous"}, FolderPath: path, FolderClass: class, Role: roleNone})
	}
	folderGrant := func(path []string, g Principal, role string, rights []string) {
		add(ExchangePermission{Kind: PermFolder, Grantee: g, FolderPath: path, FolderClass: FolderMail, Role: role, Rights: rights})
	}
	for _, f := range b.folders {
		if f.WellKnown == "outbox" {
			continue
		}
		path := b.pathParts(f)
		defRole := roleNone
		if b.user.Purpose == "shared" && f.WellKnown == "inbox" {
			defRole = "Reviewer"
		}
		defaultRow(path, FolderMail, defRole)
		switch {
		case b.user.Purpose == "shared":
			for i, ub := range users {
				switch {
				case f.DisplayName == "Demandes":
					folderGrant(path, t.userPrincipal(ub), "Editor", nil)
				case f.DisplayName == "Traitées" && i == 0:
					folderGrant(path, t.userPrincipal(ub), "PublishingAuthor", nil)
				case f.DisplayName == "Traitées":
					folderGrant(path, t.userPrincipal(ub), "NonEditingAuthor", nil)
				}
			}
		case next != nil:
			g := t.userPrincipal(next)
			switch {
			case f.WellKnown == "inbox":
				folderGrant(path, g, "Reviewer", nil)
			case f.WellKnown == "archive":
				folderGrant(path, g, "Owner", nil)
			case f.DisplayName == "Projets":
				folderGrant(path, g, "PublishingEditor", nil)
			case f.DisplayName == "Été 2024":
				folderGrant(path, g, "Editor", nil)
			case f.DisplayName == "Réunions":
				folderGrant(path, g, "Author", nil)
			case f.DisplayName == "Clients & Partenaires":
				folderGrant(path, groupSales, "PublishingAuthor", nil)
				folderGrant(path, g, "Reviewer", nil)
			case f.DisplayName == "日本語":
				folderGrant(path, g, "NonEditingAuthor", nil)
			case f.DisplayName == "Ünïcödé":
				folderGrant(path, g, "Contributor", nil)
			case f.DisplayName == "A/B tests":
				folderGrant(path, g, "", []string{"ReadItems", "CreateItems", "EditOwnedItems", "FolderVisible"})
			}
		}
	}
	// Calendar folders restate calendarPermissions (the default calendar is the "Calendar"
	// folder, other calendars are its subfolders).
	cals := b.gw.cals
	if len(cals) >= 2 {
		for ci, c := range cals[:2] {
			path := []string{cals[0].Name}
			if ci > 0 {
				path = append(path, c.Name)
			}
			for _, p := range b.set.calPerms[c.ID] {
				role, flags := exchangeRole(p.Role)
				g := Principal{Kind: PrincipalExternal, Address: p.Address, Name: p.Address, DisplayName: p.Address}
				switch {
				case p.Address == "":
					g = Principal{Kind: PrincipalDefault, Name: "Default", DisplayName: "Default"}
				case p.IsInsideOrganization:
					if ob := t.box(p.Address); ob != nil {
						g = t.userPrincipal(ob)
					}
				}
				add(ExchangePermission{Kind: PermFolder, Grantee: g, FolderPath: path, FolderClass: FolderCalendar, Role: role, SharingFlags: flags, Mirror: true})
				if p.Address == "" {
					add(ExchangePermission{Kind: PermFolder, Grantee: Principal{Kind: PrincipalAnonymous, Name: "Anonymous", DisplayName: "Anonymous"}, FolderPath: path, FolderClass: FolderCalendar, Role: roleNone, Mirror: true})
				}
			}
		}
	}
	// The contacts folder.
	contacts := []string{"Contacts"}
	defaultRow(contacts, FolderContacts, roleNone)
	if next != nil {
		add(ExchangePermission{Kind: PermFolder, Grantee: t.userPrincipal(next), FolderPath: contacts, FolderClass: FolderContacts, Role: "Reviewer"})
	}
	b.set.exch = out
}

func (b *mailbox) pathParts(f *Folder) []string {
	var parts []string
	for f != nil && f.ID != b.root {
		parts = append(parts, f.DisplayName)
		f = b.fByID[f.ParentID]
	}
	slices.Reverse(parts)
	return parts
}

// CalendarPermissions returns the calendarPermissions of a calendar ("" or "calendar": the
// default one). A calendar another user shares with the mailbox has none (Graph answers an
// empty collection to a recipient). It returns an error wrapping model.ErrNotFound when the
// mailbox or the calendar does not exist.
func (t *Tenant) CalendarPermissions(userID, calID string) ([]CalendarPermission, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return nil, err
	}
	c := b.calendar(calID)
	if c == nil {
		return nil, notFound("calendar", calID)
	}
	ps := b.set.calPerms[c.ID]
	out := make([]CalendarPermission, len(ps))
	for i, p := range ps {
		p.AllowedRoles = slices.Clone(p.AllowedRoles)
		out[i] = p
	}
	return out, nil
}

// ExchangeName returns the mailbox's Exchange Name: what Identity columns of the Exchange
// cmdlets and GrantSendOnBehalfTo show (a display name, or an alias); "" when the mailbox
// does not exist.
func (t *Tenant) ExchangeName(userID string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if b := t.box(userID); b != nil {
		return b.set.name
	}
	return ""
}

// ExchangePermissions returns what the Exchange cmdlets show for the mailbox (see
// ExchangePermission), in the order they list it; nil when the mailbox does not exist.
func (t *Tenant) ExchangePermissions(userID string) []ExchangePermission {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]ExchangePermission, len(b.set.exch))
	for i, p := range b.set.exch {
		p.FolderPath = slices.Clone(p.FolderPath)
		p.Rights = slices.Clone(p.Rights)
		p.SharingFlags = slices.Clone(p.SharingFlags)
		out[i] = p
	}
	return out
}

// ExchangeGrants returns, as model grants, exactly what the CSV exports of sim/exchangecsv
// state for the mailbox: one grant per row, Default/Anonymous "None" rows and the calendar
// folder rows that restate calendarPermissions included, roles in Exchange's vocabulary.
// Grantee is the primary SMTP address of a user, a group's name as the export writes it, model.GranteeDefault /
// model.GranteeAnonymous, an external address, or the SID of an orphaned entry; FolderID
// is empty (the exports carry no ids). It is the truth a CSV reader is tested against.
func (t *Tenant) ExchangeGrants(userID string) []model.Grant {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	var out []model.Grant
	for _, p := range b.set.exch {
		out = append(out, exchangeGrant(b, p))
	}
	return out
}

func exchangeGrant(b *mailbox, p ExchangePermission) model.Grant {
	g := model.Grant{Owner: b.user.Mail, Deny: p.Deny, Role: p.Role}
	switch p.Grantee.Kind {
	case PrincipalDefault:
		g.Grantee = model.GranteeDefault
	case PrincipalAnonymous:
		g.Grantee = model.GranteeAnonymous
	case PrincipalSID:
		g.Grantee = p.Grantee.SID
	case PrincipalGroup:
		// A group is kept as the export names it.
		g.Grantee = p.Grantee.Name
	default:
		g.Grantee = p.Grantee.Address
	}
	switch p.Kind {
	case PermFullAccess:
		g.Scope, g.Role, g.Origin = model.ScopeMailbox, PermFullAccess, OriginMailboxPerms
	case PermSendAs:
		g.Scope, g.Role, g.Origin = model.ScopeSendAs, PermSendAs, OriginRecipientPerms
	case PermSendOnBehalf:
		g.Scope, g.Role, g.Origin = model.ScopeSendOnBehalf, PermSendOnBehalf, OriginMailboxes
	case PermFolder:
		g.Origin = OriginFolderPerms
		g.FolderPath = strings.Join(p.FolderPath, "/")
		g.Rights = slices.Clone(p.Rights)
		if len(g.Rights) > 0 {
			g.Role = RoleCustom
		}
		g.Flags = slices.Clone(p.SharingFlags)
		switch p.FolderClass {
		case FolderCalendar:
			g.Scope = model.ScopeCalendar
		case FolderContacts:
			g.Scope = model.ScopeContacts
		default:
			g.Scope = model.ScopeFolder
		}
	}
	return g
}

// Grants returns every right given on the mailbox, once: the calendarPermissions of the
// calendars it owns as Graph shows them (Origin OriginGraph, Role a Graph role, FolderID
// the calendar id, FolderPath its name; the "My Organization" entry as
// model.GranteeDefault), then what only the Exchange exports show (as ExchangeGrants,
// without the calendar rows that restate Graph and without the Default/Anonymous "None"
// rows, which grant nothing). Nil when the mailbox does not exist.
func (t *Tenant) Grants(userID string) []model.Grant {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	var out []model.Grant
	for _, c := range b.gw.cals {
		for _, p := range b.set.calPerms[c.ID] {
			g := model.Grant{Owner: b.user.Mail, Grantee: p.Address, Scope: model.ScopeCalendar, FolderPath: c.Name,
				FolderID: c.ID, Role: p.Role, Origin: OriginGraph}
			if p.Address == "" {
				g.Grantee = model.GranteeDefault
			}
			out = append(out, g)
		}
	}
	for _, p := range b.set.exch {
		if p.Mirror || (p.Role == roleNone && (p.Grantee.Kind == PrincipalDefault || p.Grantee.Kind == PrincipalAnonymous)) {
			continue
		}
		out = append(out, exchangeGrant(b, p))
	}
	return out
}

// Rules returns the mailbox's inbox rules ordered by sequence, Payload the Graph
// messageRule JSON sim/graph serves; nil when the mailbox does not exist.
func (t *Tenant) Rules(userID string) []model.Rule {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]model.Rule, len(b.set.rules))
	for i, r := range b.set.rules {
		out[i] = model.Rule{ID: r.id, Name: r.name, Sequence: r.sequence, Enabled: r.enabled, Payload: slices.Clone(r.payload)}
	}
	return out
}

// Rule returns one inbox rule. It returns an error wrapping model.ErrNotFound when the
// mailbox or the rule does not exist.
func (t *Tenant) Rule(userID, ruleID string) (model.Rule, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return model.Rule{}, err
	}
	for _, r := range b.set.rules {
		if r.id == ruleID {
			return model.Rule{ID: r.id, Name: r.name, Sequence: r.sequence, Enabled: r.enabled, Payload: slices.Clone(r.payload)}, nil
		}
	}
	return model.Rule{}, notFound("rule", ruleID)
}

// AutoReply returns the mailbox's automatic replies setting (Start and End in UTC, set
// for every status: Graph keeps the last schedule). It returns an error wrapping
// model.ErrNotFound when the mailbox does not exist.
func (t *Tenant) AutoReply(userID string) (model.AutoReply, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return model.AutoReply{}, err
	}
	return b.set.reply, nil
}

// SetAutoReply replaces the mailbox's automatic replies setting. It returns an error
// wrapping model.ErrNotFound when the mailbox does not exist, and a plain error for an
// unknown status or audience.
func (t *Tenant) SetAutoReply(userID string, r model.AutoReply) error {
	switch r.Status {
	case "disabled", "alwaysEnabled", "scheduled":
	default:
		return fmt.Errorf("tenant: unknown automatic replies status %q", r.Status)
	}
	switch r.ExternalAudience {
	case "none", "contactsOnly", "all":
	default:
		return fmt.Errorf("tenant: unknown external audience %q", r.ExternalAudience)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return err
	}
	r.Start, r.End = r.Start.UTC(), r.End.UTC()
	b.set.reply = r
	return nil
}

// SetRules replaces the mailbox's inbox rules with Graph messageRule JSON objects (each
// needs at least displayName and sequence; a missing id is generated). It returns an error
// wrapping model.ErrNotFound when the mailbox does not exist, and a plain error for a
// payload that is not a JSON object.
func (t *Tenant) SetRules(userID string, payloads [][]byte) error {
	var rules []messageRule
	for i, p := range payloads {
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			return fmt.Errorf("tenant: rule %d: %w", i, err)
		}
		r := messageRule{enabled: true}
		r.id, _ = m["id"].(string)
		r.name, _ = m["displayName"].(string)
		if s, ok := m["sequence"].(float64); ok {
			r.sequence = int(s)
		}
		if e, ok := m["isEnabled"].(bool); ok {
			r.enabled = e
		}
		if r.id == "" {
			r.id = ruleID(int64(i), userID, 1000+i)
			m["id"] = r.id
		}
		r.payload = compactJSON(m)
		rules = append(rules, r)
	}
	slices.SortStableFunc(rules, func(a, b messageRule) int { return a.sequence - b.sequence })
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.boxErr(userID)
	if err != nil {
		return err
	}
	b.set.rules = rules
	return nil
}

// compactJSON encodes v without HTML escaping, so that bytes round-trip through sim/graph.
func compactJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
