package exchangecsv

import (
	"regexp"
	"slices"
	"strings"
)

// Mailbox is one line of mailboxes.csv.
type Mailbox struct {
	// Address is the primary SMTP address, the key every grant uses.
	Address string
	// Identity, Name, Alias, DisplayName and UPN are as exported (empty when the column
	// is missing).
	Identity, Name, Alias, DisplayName, UPN string
	// RecipientTypeDetails is Exchange's kind: UserMailbox, SharedMailbox, RoomMailbox,
	// EquipmentMailbox, …
	RecipientTypeDetails string
}

// identityColumns are the columns of mailboxes.csv whose values name a mailbox the way
// other cmdlets print it: Get-MailboxPermission's Identity and User, Get-RecipientPermission's
// Trustee, GrantSendOnBehalfTo and Get-MailboxFolderPermission's User may each show the
// name, display name, alias, UPN, address, distinguished name, GUID or DOMAIN\account.
var identityColumns = []string{"identity", "name", "alias", "displayname", "primarysmtpaddress",
	"userprincipalname", "windowsemailaddress", "distinguishedname", "guid", "exchangeguid",
	"externaldirectoryobjectid", "samaccountname", "legacyexchangedn", "windowsliveid", "microsoftonlineservicesid"}

// resolver maps any name of a mailbox to its primary SMTP address.
type resolver struct {
	keys map[string][]string // lower-case name → addresses (more than one: ambiguous)
}

func newResolver() *resolver { return &resolver{keys: map[string][]string{}} }

func (r *resolver) add(key, addr string) {
	key = strings.ToLower(strings.TrimSpace(key))
	if key == "" {
		return
	}
	if !slices.ContainsFunc(r.keys[key], func(a string) bool { return strings.EqualFold(a, addr) }) {
		r.keys[key] = append(r.keys[key], addr)
	}
}

// resolution says what became of a name.
type resolution int

const (
	resolved         resolution = iota
	unknown                     // no mailbox has this name
	ambiguous                   // several mailboxes have it (display names collide)
	looksLikeAddress            // not in mailboxes.csv, but an address: used as it is
)

var smtpPrefix = regexp.MustCompile(`(?i)^smtp:`)

// lookup finds the address of name: the names mailboxes.csv gives first, then the forms
// Exchange prints that contain one of them (DOMAIN\account, a canonical name
// "contoso.com/Users/Name", "smtp:addr", "ExchangePublishedUser.addr"), then any address.
func (r *resolver) lookup(name string) (string, resolution) {
	name = strings.TrimSpace(name)
	var cands []string
	cands = append(cands, name)
	if s := smtpPrefix.ReplaceAllString(name, ""); s != name {
		cands = append(cands, s)
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 && i+1 < len(name) {
		cands = append(cands, name[i+1:])
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 && i+1 < len(name) && !strings.Contains(name, "=") {
		cands = append(cands, name[i+1:])
	}
	if s, ok := strings.CutPrefix(name, "ExchangePublishedUser."); ok {
		cands = append(cands, s)
	}
	for _, c := range cands {
		switch as := r.keys[strings.ToLower(c)]; len(as) {
		case 0:
		case 1:
			return as[0], resolved
		default:
			return "", ambiguous
		}
	}
	for _, c := range cands {
		if isAddress(c) {
			return c, looksLikeAddress
		}
	}
	return "", unknown
}

// isAddress is a loose test: one @, something before it, a dot in the domain, no space.
func isAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.Count(s, "@") != 1 || strings.ContainsAny(s, " \t\\/;,:<>\"") {
		return false
	}
	dom := s[at+1:]
	return strings.Contains(dom, ".") && !strings.HasPrefix(dom, ".") && !strings.HasSuffix(dom, ".")
}

// Principals Exchange puts on every mailbox itself; they are not delegations and are
// skipped without a word.
var selfPrincipals = map[string]bool{
	`nt authority\self`: true, "s-1-5-10": true,
}

// systemAccounts are the groups and accounts Exchange (on premises and Online, where the
// domain is the forest's, e.g. NAMPR01A001) grants on every mailbox, mostly inherited
// from the database or the organisation. They are recognised by the part after the
// DOMAIN\ prefix, and only with one: a mailbox whose display name is "Administrator"
// stays a mailbox.
var systemAccounts = map[string]bool{
	"administrator": true, "domain admins": true, "enterprise admins": true,
	"organization management": true, "exchange servers": true, "exchange trusted subsystem": true,
	"managed availability servers": true, "exchange domain servers": true, "exchange services": true,
	"public folder management": true, "delegated setup": true, "exchange organization administrators": true,
	"exchange view-only administrators": true, "exchange windows permissions": true,
	"exchange recipient administrators": true, "jitusers": true, "discovery management": true,
	"system": true, "network service": true, "local system": true,
}

// isSystem reports whether name is NT AUTHORITY\…, a well-known SID of the machine, or
// one of systemAccounts with a DOMAIN\ prefix.
func isSystem(name string) bool {
	l := strings.ToLower(strings.TrimSpace(name))
	if strings.HasPrefix(l, `nt authority\`) || strings.HasPrefix(l, "s-1-5-18") || strings.HasPrefix(l, "s-1-5-32-") {
		return true
	}
	if i := strings.LastIndexByte(l, '\\'); i > 0 {
		return systemAccounts[l[i+1:]]
	}
	return false
}

// isSID matches an unresolved security identifier, as Exchange prints an orphaned entry
// (a deleted user): "S-1-5-21-…" or, in folder permissions, "NT:S-1-5-21-…".
func isSID(name string) bool {
	l := strings.ToUpper(strings.TrimSpace(name))
	l = strings.TrimPrefix(l, "NT:")
	return strings.HasPrefix(l, "S-1-")
}
