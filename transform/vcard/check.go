package vcard

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	govcard "github.com/emersion/go-vcard"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Field is one value a Graph contact carries.
type Field struct {
	// Name is the Graph property path: "givenName", "emailAddresses[1].address",
	// "homeAddress.city", "categories[0]"…
	Name string
	// Value is the property's value; dates are "YYYY-MM-DD" ("--MM-DD" without a year),
	// timestamps RFC 3339 in UTC.
	Value string
}

// Fields lists every non-empty value of the contact resource's properties in payload, in a
// fixed order. changeKey and parentFolderId are not listed (the state store and the target
// collection carry them); nor are extensions and extended properties (see Contact's
// warnings). The photo is not in the payload: Check takes its bytes as an argument.
func Fields(payload []byte) ([]Field, error) {
	c, err := parse(payload)
	if err != nil {
		return nil, err
	}
	exps := expectations(c, Options{})
	fields := make([]Field, len(exps))
	for i, e := range exps {
		fields[i] = e.Field
	}
	return fields, nil
}

// Check returns one line for every field of payload (see Fields) that card does not carry,
// and for a photo whose bytes no PHOTO of the card decodes to; nil means everything was found.
// card may be vCard 3.0 or 4.0 as a server returns it: any property order, folded or not,
// parameters in any case, properties the server added. Check compares with the card that
// Contact would write without address rewriting; CheckWith takes the Options used.
func Check(card []byte, payload []byte, photo []byte) []string {
	return CheckWith(card, payload, photo, Options{})
}

// CheckWith is Check for a card written with opt (its Rewrite changes the addresses expected).
func CheckWith(card []byte, payload []byte, photo []byte, opt Options) []string {
	c, err := parse(payload)
	if err != nil {
		return []string{err.Error()}
	}
	pc, err := parseCard(card)
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for _, e := range expectations(c, opt) {
		if !e.found(pc) {
			missing = append(missing, fmt.Sprintf("%s %s not found", e.Name, quote(e.Value)))
		}
	}
	// The first address must stay the preferred one.
	var addrs []string
	for _, e := range c.GetEmailAddresses() {
		if e != nil && str(e.GetAddress()) != "" {
			addrs = append(addrs, opt.Rewrite.Address(norm(str(e.GetAddress()))))
		}
	}
	if len(addrs) > 1 {
		if p := pc.preferredEmail(); !strings.EqualFold(p, addrs[0]) {
			missing = append(missing, fmt.Sprintf("emailAddresses[0] %s is not the preferred EMAIL (%s is)", quote(addrs[0]), quote(p)))
		}
	}
	if len(photo) > 0 {
		found := false
		for _, p := range pc.all(govcard.FieldPhoto) {
			if b, ok := p.photo(); ok && bytes.Equal(b, photo) {
				found = true
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("photo (%d bytes) not found", len(photo)))
		}
	}
	return missing
}

func quote(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		s = string([]rune(s)[:57]) + "…"
	}
	return strconv.Quote(s)
}

type expect struct {
	Field
	found func(*card) bool
}

// expectations pairs each field of the contact with the test that finds it in a card.
func expectations(c models.Contactable, opt Options) []expect {
	var out []expect
	add := func(name, value string, found func(*card) bool) {
		if value != "" {
			out = append(out, expect{Field{name, value}, found})
		}
	}
	text := func(name, value string, props ...string) {
		add(name, value, func(pc *card) bool { return pc.hasText(norm(value), props...) })
	}

	id := str(c.GetId())
	add("id", id, func(pc *card) bool {
		want := strings.TrimPrefix(UID(id), "urn:uuid:")
		for _, p := range pc.all(govcard.FieldUID) {
			v := strings.ToLower(strings.TrimSpace(p.text()))
			if strings.TrimPrefix(v, "urn:uuid:") == want {
				return true
			}
		}
		return false
	})
	text("displayName", str(c.GetDisplayName()), govcard.FieldFormattedName)
	for i, n := range []struct {
		name  string
		value *string
	}{{"surname", c.GetSurname()}, {"givenName", c.GetGivenName()}, {"middleName", c.GetMiddleName()},
		{"title", c.GetTitle()}, {"generation", c.GetGeneration()}} {
		add(n.name, str(n.value), func(pc *card) bool { return pc.hasComponent(govcard.FieldName, "", i, norm(str(n.value))) })
	}
	nick := str(c.GetNickName())
	add("nickName", nick, func(pc *card) bool {
		return pc.hasText(norm(nick), govcard.FieldNickname) || pc.hasListItem(govcard.FieldNickname, norm(nick))
	})
	if bd := c.GetBirthday(); bd != nil {
		y, m, d := bd.Date()
		v := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
		if y == noYear {
			v = fmt.Sprintf("--%02d-%02d", m, d)
		}
		add("birthday", v, func(pc *card) bool {
			for _, p := range pc.all(govcard.FieldBirthday) {
				if py, pm, pd, ok := p.date(); ok && pm == m && pd == d && (py == y || (y == noYear && py < 0)) {
					return true
				}
			}
			return false
		})
	}
	for i, e := range c.GetEmailAddresses() {
		if e == nil {
			continue
		}
		addr, name := norm(str(e.GetAddress())), norm(str(e.GetName()))
		want := opt.Rewrite.Address(addr)
		add(fmt.Sprintf("emailAddresses[%d].address", i), addr, func(pc *card) bool { return len(pc.emails(want)) > 0 })
		if !strings.EqualFold(name, addr) {
			add(fmt.Sprintf("emailAddresses[%d].name", i), name, func(pc *card) bool {
				for _, em := range pc.emails(want) {
					if em.group != "" && pc.hasText(name, em.group+"."+propEmailName) {
						return true
					}
				}
				return false
			})
		}
	}
	phone := func(name, value, typ string) {
		add(name, value, func(pc *card) bool {
			for _, p := range pc.all(govcard.FieldTelephone) {
				v := p.text()
				if u, ok := cutPrefixFold(v, "tel:"); ok {
					v = u
				}
				if norm(v) == norm(value) && p.hasType(typ) {
					return true
				}
			}
			return false
		})
	}
	for i, p := range c.GetBusinessPhones() {
		phone(fmt.Sprintf("businessPhones[%d]", i), p, "work")
	}
	for i, p := range c.GetHomePhones() {
		phone(fmt.Sprintf("homePhones[%d]", i), p, "home")
	}
	phone("mobilePhone", str(c.GetMobilePhone()), "cell")
	for _, a := range []struct {
		name string
		adr  models.PhysicalAddressable
		typ  string
	}{{"businessAddress", c.GetBusinessAddress(), "work"}, {"homeAddress", c.GetHomeAddress(), "home"}, {"otherAddress", c.GetOtherAddress(), ""}} {
		if a.adr == nil {
			continue
		}
		for _, part := range []struct {
			name  string
			index int
			value *string
		}{{"street", 2, a.adr.GetStreet()}, {"city", 3, a.adr.GetCity()}, {"state", 4, a.adr.GetState()},
			{"postalCode", 5, a.adr.GetPostalCode()}, {"countryOrRegion", 6, a.adr.GetCountryOrRegion()}} {
			add(a.name+"."+part.name, str(part.value), func(pc *card) bool {
				return pc.hasComponent(govcard.FieldAddress, a.typ, part.index, norm(str(part.value)))
			})
		}
	}
	company, dept := str(c.GetCompanyName()), str(c.GetDepartment())
	add("companyName", company, func(pc *card) bool { return pc.hasComponent(govcard.FieldOrganization, "", 0, norm(company)) })
	add("department", dept, func(pc *card) bool { return pc.hasComponent(govcard.FieldOrganization, "", 1, norm(dept)) })
	text("jobTitle", str(c.GetJobTitle()), govcard.FieldTitle)
	text("profession", str(c.GetProfession()), govcard.FieldRole)
	text("officeLocation", str(c.GetOfficeLocation()), propOffice)
	text("assistantName", str(c.GetAssistantName()), propAssistant)
	text("manager", str(c.GetManager()), propManager)
	spouse := str(c.GetSpouseName())
	add("spouseName", spouse, func(pc *card) bool {
		return pc.hasText(norm(spouse), propSpouse) || pc.hasRelated(govcard.TypeSpouse, norm(spouse))
	})
	for i, ch := range c.GetChildren() {
		add(fmt.Sprintf("children[%d]", i), ch, func(pc *card) bool {
			return pc.hasText(norm(ch), propChild) || pc.hasRelated(govcard.TypeChild, norm(ch))
		})
	}
	for i, im := range c.GetImAddresses() {
		add(fmt.Sprintf("imAddresses[%d]", i), im, func(pc *card) bool {
			want := norm(im)
			if pc.hasText(want, propIM) {
				return true
			}
			for _, p := range pc.all(govcard.FieldIMPP) {
				v := p.text()
				if u, ok := cutPrefixFold(v, "sip:"); ok && !hasScheme(want) {
					v = u
				}
				if v == want {
					return true
				}
			}
			return false
		})
	}
	text("businessHomePage", str(c.GetBusinessHomePage()), govcard.FieldURL)
	for i, cat := range c.GetCategories() {
		add(fmt.Sprintf("categories[%d]", i), cat, func(pc *card) bool { return pc.hasListItem(govcard.FieldCategories, norm(cat)) })
	}
	text("personalNotes", str(c.GetPersonalNotes()), govcard.FieldNote)
	text("yomiGivenName", str(c.GetYomiGivenName()), propPhoneticFirst)
	text("yomiSurname", str(c.GetYomiSurname()), propPhoneticLast)
	text("yomiCompanyName", str(c.GetYomiCompanyName()), propPhoneticOrg)
	text("fileAs", str(c.GetFileAs()), propFileAs)
	text("initials", str(c.GetInitials()), propInitials)
	stamp := func(name string, t *time.Time, prop string) {
		if t == nil {
			return
		}
		add(name, t.UTC().Format(time.RFC3339), func(pc *card) bool {
			for _, p := range pc.all(prop) {
				if pt, ok := p.timestamp(); ok && pt.Equal(*t) {
					return true
				}
			}
			return false
		})
	}
	stamp("createdDateTime", c.GetCreatedDateTime(), propCreated)
	stamp("lastModifiedDateTime", c.GetLastModifiedDateTime(), govcard.FieldRevision)
	return out
}

// norm is what a text value becomes in a card: see clean.
func norm(s string) string {
	c, _ := clean(s)
	return c
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// card is a vCard parsed leniently, keeping raw values so compound values split right.
type card struct {
	props []cprop
}

type cprop struct {
	group  string
	name   string              // upper case
	params map[string][]string // upper-case keys; values unquoted, split at commas
	raw    string              // the value as written, escapes and all
}

// parseCard reads the first vCard in data. It accepts CRLF or LF line ends, folding with a
// space or a tab, quoted parameter values (RFC 6868 ^-escapes decoded) and vCard 2.1/3.0 bare
// types ("TEL;WORK:").
func parseCard(data []byte) (*card, error) {
	var logical []string
	var cur strings.Builder
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && i > 0 {
			cur.WriteString(l[1:])
			continue
		}
		if i > 0 {
			logical = append(logical, cur.String())
		}
		cur.Reset()
		cur.WriteString(l)
	}
	logical = append(logical, cur.String())
	pc := &card{}
	inside, ended := false, false
	for _, l := range logical {
		if strings.TrimSpace(l) == "" {
			continue
		}
		p, ok := parseLine(l)
		if !ok {
			continue
		}
		switch {
		case p.name == "BEGIN" && strings.EqualFold(p.raw, "VCARD") && !inside:
			inside = true
		case p.name == "END" && strings.EqualFold(p.raw, "VCARD") && inside:
			ended = true
		case inside:
			pc.props = append(pc.props, p)
		}
		if ended {
			break
		}
	}
	if !inside {
		return nil, fmt.Errorf("card: no BEGIN:VCARD")
	}
	return pc, nil
}

func parseLine(l string) (cprop, bool) {
	// The name and parameters end at the first ':' outside double quotes.
	colon, quoted := -1, false
	for i := 0; i < len(l); i++ {
		if l[i] == '"' {
			quoted = !quoted
		} else if l[i] == ':' && !quoted {
			colon = i
			break
		}
	}
	if colon < 0 {
		return cprop{}, false
	}
	head := splitOutsideQuotes(l[:colon], ';')
	p := cprop{raw: l[colon+1:], params: map[string][]string{}}
	name := head[0]
	if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
		p.group, name = name[:dot], name[dot+1:]
	}
	p.name = strings.ToUpper(strings.TrimSpace(name))
	for _, param := range head[1:] {
		k, v, ok := strings.Cut(param, "=")
		if !ok {
			k, v = govcard.ParamType, param // vCard 2.1 style
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		for _, item := range splitOutsideQuotes(v, ',') {
			item = strings.TrimSpace(item)
			if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
				item = item[1 : len(item)-1]
			}
			item = caretDecoder.Replace(item)
			// A quoted "work,voice" is two values.
			p.params[k] = append(p.params[k], strings.Split(item, ",")...)
		}
	}
	return p, p.name != ""
}

var caretDecoder = strings.NewReplacer("^n", "\n", "^N", "\n", "^^", "^", "^'", `"`)

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// all returns the properties named name ("EMAIL", or "GROUP.NAME" for a grouped one).
func (pc *card) all(name string) []cprop {
	group := ""
	if g, n, ok := strings.Cut(name, "."); ok {
		group, name = g, n
	}
	var out []cprop
	for _, p := range pc.props {
		if strings.EqualFold(p.name, name) && (group == "" || strings.EqualFold(p.group, group)) {
			out = append(out, p)
		}
	}
	return out
}

// hasText reports whether one of the properties has the text value want.
func (pc *card) hasText(want string, names ...string) bool {
	for _, n := range names {
		for _, p := range pc.all(n) {
			if norm(p.text()) == want {
				return true
			}
		}
	}
	return false
}

// hasListItem reports whether a comma-separated list property (CATEGORIES) holds want.
func (pc *card) hasListItem(name, want string) bool {
	for _, p := range pc.all(name) {
		for _, item := range splitEscaped(p.raw, ',') {
			if norm(item) == want {
				return true
			}
		}
	}
	return false
}

// hasComponent reports whether a compound property of type typ ("" = any) has want at index.
func (pc *card) hasComponent(name, typ string, index int, want string) bool {
	for _, p := range pc.all(name) {
		if typ != "" && !p.hasType(typ) {
			continue
		}
		parts := splitEscaped(p.raw, ';')
		if index < len(parts) && norm(parts[index]) == want {
			return true
		}
	}
	return false
}

// hasRelated finds a RELATED of the given type whose text value is want.
func (pc *card) hasRelated(typ, want string) bool {
	for _, p := range pc.all(govcard.FieldRelated) {
		if p.hasType(typ) && norm(p.text()) == want {
			return true
		}
	}
	return false
}

// emails returns the EMAIL properties whose address is addr (case aside, "mailto:" aside).
func (pc *card) emails(addr string) []cprop {
	var out []cprop
	for _, p := range pc.all(govcard.FieldEmail) {
		v, _ := cutPrefixFold(p.text(), "mailto:")
		if strings.EqualFold(norm(v), addr) {
			out = append(out, p)
		}
	}
	return out
}

// preferredEmail returns the address a client would pick: lowest PREF (4.0), else TYPE=pref
// (3.0), else the first.
func (pc *card) preferredEmail() string {
	best, bestRank := "", 1000
	for i, p := range pc.all(govcard.FieldEmail) {
		rank := 200 + i
		if v, err := strconv.Atoi(first(p.params[govcard.ParamPreferred])); err == nil {
			rank = v
		} else if p.hasType("pref") {
			rank = 1
		}
		if rank < bestRank {
			v, _ := cutPrefixFold(p.text(), "mailto:")
			best, bestRank = norm(v), rank
		}
	}
	return best
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (p cprop) text() string { return unescape(p.raw) }

func (p cprop) hasType(t string) bool {
	for _, v := range p.params[govcard.ParamType] {
		if strings.EqualFold(strings.TrimSpace(v), t) {
			return true
		}
	}
	return false
}

// date reads a BDAY: 19740722, 1974-07-22, --0722, --07-22, a date-time, or 3.0 with
// X-APPLE-OMIT-YEAR. year is -1 when the card has none.
func (p cprop) date() (year int, month time.Month, day int, ok bool) {
	v := strings.TrimSpace(p.text())
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		v = t.Format("2006-01-02") // as written, like Contact
	} else if i := strings.IndexByte(v, 'T'); i > 0 {
		v = v[:i]
	}
	v = strings.ReplaceAll(v, "-", "")
	if len(v) == 4 { // --MMDD
		v = "????" + v
	}
	if len(v) != 8 {
		return 0, 0, 0, false
	}
	m, err1 := strconv.Atoi(v[4:6])
	d, err2 := strconv.Atoi(v[6:8])
	if err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	y, err := strconv.Atoi(v[:4])
	if err != nil {
		y = -1
	}
	if omit := first(p.params["X-APPLE-OMIT-YEAR"]); omit != "" && omit == v[:4] {
		y = -1
	}
	return y, time.Month(m), d, true
}

// timestamp reads REV and X-MS-CREATED: 20170904T155402Z, 2017-09-04T15:54:02Z, with an
// offset, or a date alone.
func (p cprop) timestamp() (time.Time, bool) {
	v := strings.TrimSpace(p.text())
	for _, layout := range []string{"20060102T150405Z07:00", "20060102T150405Z0700", time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "20060102", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// photo decodes a PHOTO: a data: URI (4.0) or ENCODING=b / BASE64 (3.0).
func (p cprop) photo() ([]byte, bool) {
	v := strings.TrimSpace(p.raw)
	if rest, ok := cutPrefixFold(unescape(v), "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok {
			return nil, false
		}
		if strings.HasSuffix(strings.ToLower(meta), ";base64") {
			return decodeBase64(data)
		}
		b, err := url.PathUnescape(data)
		return []byte(b), err == nil
	}
	enc := strings.ToLower(first(p.params["ENCODING"]))
	if enc == "b" || enc == "base64" {
		return decodeBase64(v)
	}
	return nil, false
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\\' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// unescape undoes vCard text escaping: \\ \n \N \, \; (and \: which some writers emit).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var w strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			w.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			w.WriteByte('\n')
		case '\\', ',', ';', ':':
			w.WriteByte(s[i])
		default:
			w.WriteByte('\\')
			w.WriteByte(s[i])
		}
	}
	return w.String()
}

// splitEscaped splits a raw value at sep characters that are not escaped, and unescapes each
// part.
func splitEscaped(raw string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, unescape(raw[start:i]))
			start = i + 1
		}
	}
	return append(parts, unescape(raw[start:]))
}
