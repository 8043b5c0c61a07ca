// Package vcard turns a Microsoft Graph contact into a vCard for a CardDAV PUT: vCard 4.0
// (RFC 6350) by default, vCard 3.0 (RFC 2426) for servers that need it. It also reads a card
// back (Fields, Check) so a test can prove that every field of a contact survived the trip
// through a real server.
//
// How each Graph property is carried (learn.microsoft.com/graph/api/resources/contact):
//
//	id                        UID (urn:uuid, a name-based UUID of the id: stable across runs)
//	displayName               FN (composed from the name parts, fileAs, company, e-mail… when empty)
//	surname, givenName, middleName, title, generation
//	                          N (family; given; additional; prefix; suffix) — Outlook's "title"
//	                          is the courtesy title (Mr., Dr.), not the job title
//	nickName                  NICKNAME
//	companyName, department   ORG (company; department)
//	jobTitle, profession      TITLE, ROLE
//	emailAddresses            EMAIL in Graph's order: 4.0 PREF=1,2,…; 3.0 TYPE=INTERNET and
//	                          TYPE=PREF on the first; a name that differs from the address goes
//	                          in X-MS-EMAIL-NAME of the same group (emailN.EMAIL, emailN.X-MS-EMAIL-NAME)
//	businessPhones, homePhones, mobilePhone
//	                          TEL;TYPE=work,voice / home,voice / cell
//	businessAddress, homeAddress, otherAddress
//	                          ADR;TYPE=work / home / (no type); ;;street;city;state;postalCode;country
//	birthday                  BDAY, the date as written (never shifted by a time zone); Outlook's
//	                          year 1604 means "no year": 4.0 --MMDD, 3.0 X-APPLE-OMIT-YEAR
//	personalNotes             NOTE
//	imAddresses               IMPP (sip: added when there is no scheme); X-MS-IMADDRESS when it
//	                          holds a space (no URI does)
//	businessHomePage          URL;TYPE=work
//	categories                CATEGORIES
//	spouseName, children      4.0 RELATED;VALUE=text;TYPE=spouse / child; 3.0 X-SPOUSE / X-CHILD
//	assistantName, manager    X-ASSISTANT, X-MANAGER
//	yomiGivenName, yomiSurname, yomiCompanyName
//	                          X-PHONETIC-FIRST-NAME, X-PHONETIC-LAST-NAME, X-PHONETIC-ORG
//	fileAs, initials, officeLocation
//	                          X-MS-FILE-AS, X-MS-INITIALS, X-MS-OFFICE-LOCATION
//	lastModifiedDateTime      REV;  createdDateTime: X-MS-CREATED
//	photo ($value bytes)      PHOTO: 4.0 data: URI (media type sniffed); 3.0 ENCODING=b;TYPE=JPEG
//
// changeKey and parentFolderId are the item's version and collection: the state store and the
// target collection carry them, not the card. Open extensions, extended properties and
// properties this package does not know are not carried: each one becomes a warning.
//
// go-vcard supplies the card model (vcard.Card, vcard.Field) and parses cards in tests, but
// its encoder is not used: it escapes neither ';' inside compound values (N, ADR, ORG) nor
// separates list values (CATEGORIES), and it does not fold long lines. Values are therefore
// held in the card in wire form (escaped here) and written by a small encoder of our own
// that folds at 75 octets without splitting a UTF-8 sequence.
package vcard

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	govcard "github.com/emersion/go-vcard"
	"github.com/google/uuid"
	kjson "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform"
)

// Supported vCard versions.
const (
	V4 = "4.0"
	V3 = "3.0"
)

// ProdID is the PRODID every card carries.
const ProdID = "-//bascule-migrate//Bascule//EN"

// uidSpace is the namespace of the name-based (SHA-1, version 5) UUIDs made from Graph ids.
var uidSpace = uuid.MustParse("6f1c2a8e-5b3d-4e7a-9c61-0b2d7f4e8a35")

// Options tune Contact.
type Options struct {
	// Version is "4.0" (default when empty) or "3.0".
	Version string
	// Rewrite changes e-mail domains (--rewrite-domain); the zero value changes nothing.
	Rewrite transform.Rewriter
}

// Result is one contact as a vCard.
type Result struct {
	// Data is the vCard, CRLF line ends, folded, ready for a CardDAV PUT.
	Data []byte
	// UID is the card's UID ("urn:uuid:…"), derived from the Graph id only.
	UID string
	// Warnings name what the card could not carry, one sentence each.
	Warnings []string
}

// UID returns the card UID for a Graph contact id: "urn:uuid:" and a version 5 UUID of the
// id, so a rerun produces the same UID.
func UID(graphID string) string {
	return "urn:uuid:" + uuid.NewSHA1(uidSpace, []byte(graphID)).String()
}

// Contact turns the Graph JSON of one contact and its photo (JPEG or PNG bytes, nil when it
// has none) into a vCard. A payload that is not a Graph contact or has no id is a permanent
// error (model.ErrPermanent); so is an unknown Options.Version.
func Contact(payload []byte, photo []byte, opt Options) (Result, error) {
	version, err := opt.version()
	if err != nil {
		return Result{}, err
	}
	c, err := parse(payload)
	if err != nil {
		return Result{}, err
	}
	b := &builder{v4: version == V4, card: govcard.Card{}}
	b.build(c, photo, opt.Rewrite)
	return Result{Data: b.encode(version), UID: UID(str(c.GetId())), Warnings: b.warnings}, nil
}

func (o Options) version() (string, error) {
	switch o.Version {
	case "", V4:
		return V4, nil
	case V3:
		return V3, nil
	}
	return "", model.Permanent(fmt.Errorf("vcard: unsupported version %q (want 4.0 or 3.0)", o.Version))
}

// parse reads the payload with msgraph-sdk-go's model through kiota's JSON parse node.
func parse(payload []byte) (models.Contactable, error) {
	node, err := kjson.NewJsonParseNode(payload)
	if err != nil {
		return nil, model.Permanent(fmt.Errorf("vcard: contact payload: %w", err))
	}
	v, err := node.GetObjectValue(models.CreateContactFromDiscriminatorValue)
	if err != nil {
		return nil, model.Permanent(fmt.Errorf("vcard: contact payload: %w", err))
	}
	c, ok := v.(models.Contactable)
	if !ok || c == nil {
		return nil, model.Permanent(errors.New("vcard: payload is not a contact"))
	}
	if str(c.GetId()) == "" {
		return nil, model.Permanent(errors.New("vcard: contact has no id"))
	}
	return c, nil
}

// builder collects the card's properties in the order they are added.
type builder struct {
	v4       bool
	card     govcard.Card
	lines    []line // the properties in the order added (a Card is a map)
	warnings []string
}

func (b *builder) warn(format string, args ...any) {
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

// add appends a property whose value is already in wire form.
func (b *builder) add(name, group, wire string, params ...string) {
	f := &govcard.Field{Value: wire, Group: group}
	if len(params) > 0 {
		f.Params = govcard.Params{}
		for i := 0; i+1 < len(params); i += 2 {
			f.Params.Add(params[i], params[i+1])
		}
	}
	b.card.Add(name, f)
	b.lines = append(b.lines, line{name, f})
}

type line struct {
	name  string
	field *govcard.Field
}

// text cleans a Graph string for a vCard (see clean) and warns when something was dropped.
func (b *builder) text(field, s string) string {
	c, dropped := clean(s)
	if dropped {
		b.warn("%s: control characters removed", field)
	}
	return c
}

// addText adds a single text property when s is not empty.
func (b *builder) addText(name, field, s string, params ...string) {
	if s == "" {
		return
	}
	b.add(name, "", escape(b.text(field, s)), params...)
}

func (b *builder) build(c models.Contactable, photo []byte, rw transform.Rewriter) {
	id := str(c.GetId())
	b.add(govcard.FieldProductID, "", escape(ProdID))
	b.add(govcard.FieldUID, "", UID(id))
	if b.v4 {
		b.add(govcard.FieldKind, "", string(govcard.KindIndividual))
	}

	// Names.
	fn := b.text("displayName", str(c.GetDisplayName()))
	if fn == "" {
		fn = b.text("name", fallbackName(c))
	}
	if fn == "" {
		b.warn("contact has no name, no e-mail address and no phone number: FN is empty")
	}
	b.add(govcard.FieldFormattedName, "", escape(fn))
	b.add(govcard.FieldName, "", compound(
		b.text("surname", str(c.GetSurname())),
		b.text("givenName", str(c.GetGivenName())),
		b.text("middleName", str(c.GetMiddleName())),
		b.text("title", str(c.GetTitle())),
		b.text("generation", str(c.GetGeneration())),
	))
	b.addText(govcard.FieldNickname, "nickName", str(c.GetNickName()))

	// Birthday: the date as written; converting to any zone could move it a day.
	if bd := c.GetBirthday(); bd != nil {
		y, m, d := bd.Date()
		h, mi, s := bd.Clock()
		if h != 0 || mi != 0 || s != 0 || bd.Nanosecond() != 0 {
			b.warn("birthday %s has a time of day: kept the date %04d-%02d-%02d as written",
				bd.Format(time.RFC3339), y, m, d)
		}
		switch {
		case y == noYear && b.v4:
			b.add(govcard.FieldBirthday, "", fmt.Sprintf("--%02d%02d", m, d))
		case y == noYear:
			b.add(govcard.FieldBirthday, "", fmt.Sprintf("%04d-%02d-%02d", y, m, d), "X-APPLE-OMIT-YEAR", strconv.Itoa(noYear))
		case y < 0 || y > 9999:
			b.warn("birthday %s: year out of range, not carried", bd.Format(time.RFC3339))
		case b.v4:
			b.add(govcard.FieldBirthday, "", fmt.Sprintf("%04d%02d%02d", y, m, d))
		default:
			b.add(govcard.FieldBirthday, "", fmt.Sprintf("%04d-%02d-%02d", y, m, d))
		}
	}

	// E-mail, in Graph's order, the first preferred.
	n := 0
	for i, e := range c.GetEmailAddresses() {
		if e == nil {
			continue
		}
		addr := b.text(fmt.Sprintf("emailAddresses[%d].address", i), str(e.GetAddress()))
		name := b.text(fmt.Sprintf("emailAddresses[%d].name", i), str(e.GetName()))
		if addr == "" {
			if name != "" {
				b.warn("emailAddresses[%d]: name %q has no address, not carried", i, name)
			}
			continue
		}
		n++
		var params []string
		if b.v4 {
			params = []string{govcard.ParamPreferred, strconv.Itoa(min(n, 100))}
		} else {
			params = []string{govcard.ParamType, "INTERNET"}
			if n == 1 {
				params = append(params, govcard.ParamType, "PREF")
			}
		}
		group := ""
		if name != "" && !strings.EqualFold(name, addr) {
			group = fmt.Sprintf("email%d", n)
		}
		b.add(govcard.FieldEmail, group, escape(rw.Address(addr)), params...)
		if group != "" {
			b.add(propEmailName, group, escape(name))
		}
	}

	// Phones.
	for i, p := range c.GetBusinessPhones() {
		b.addText(govcard.FieldTelephone, fmt.Sprintf("businessPhones[%d]", i), p, b.types("work", "voice")...)
	}
	for i, p := range c.GetHomePhones() {
		b.addText(govcard.FieldTelephone, fmt.Sprintf("homePhones[%d]", i), p, b.types("home", "voice")...)
	}
	b.addText(govcard.FieldTelephone, "mobilePhone", str(c.GetMobilePhone()), b.types("cell")...)

	// Addresses.
	b.address("businessAddress", c.GetBusinessAddress(), "work")
	b.address("homeAddress", c.GetHomeAddress(), "home")
	b.address("otherAddress", c.GetOtherAddress(), "")

	// Organisation.
	company := b.text("companyName", str(c.GetCompanyName()))
	dept := b.text("department", str(c.GetDepartment()))
	if company != "" || dept != "" {
		if dept == "" {
			b.add(govcard.FieldOrganization, "", compound(company))
		} else {
			b.add(govcard.FieldOrganization, "", compound(company, dept))
		}
	}
	b.addText(govcard.FieldTitle, "jobTitle", str(c.GetJobTitle()))
	b.addText(govcard.FieldRole, "profession", str(c.GetProfession()))
	b.addText(propOffice, "officeLocation", str(c.GetOfficeLocation()))
	b.addText(propAssistant, "assistantName", str(c.GetAssistantName()))
	b.addText(propManager, "manager", str(c.GetManager()))

	// People.
	if b.v4 {
		b.addText(govcard.FieldRelated, "spouseName", str(c.GetSpouseName()), govcard.ParamValue, "text", govcard.ParamType, govcard.TypeSpouse)
		for i, ch := range c.GetChildren() {
			b.addText(govcard.FieldRelated, fmt.Sprintf("children[%d]", i), ch, govcard.ParamValue, "text", govcard.ParamType, govcard.TypeChild)
		}
	} else {
		b.addText(propSpouse, "spouseName", str(c.GetSpouseName()))
		for i, ch := range c.GetChildren() {
			b.addText(propChild, fmt.Sprintf("children[%d]", i), ch)
		}
	}

	// Messaging and web.
	for i, im := range c.GetImAddresses() {
		im = b.text(fmt.Sprintf("imAddresses[%d]", i), im)
		switch {
		case im == "":
		case strings.ContainsFunc(im, isSpaceOrControl):
			b.add(propIM, "", escape(im)) // no URI holds a space
		case hasScheme(im):
			b.add(govcard.FieldIMPP, "", escapeURI(im))
		default:
			b.add(govcard.FieldIMPP, "", escapeURI("sip:"+im))
		}
	}
	if u := b.text("businessHomePage", str(c.GetBusinessHomePage())); u != "" {
		b.add(govcard.FieldURL, "", escapeURI(u), b.types("work")...)
	}
	var cats []string
	for i, cat := range c.GetCategories() {
		if cat = b.text(fmt.Sprintf("categories[%d]", i), cat); cat != "" {
			cats = append(cats, escape(cat))
		}
	}
	if len(cats) > 0 {
		b.add(govcard.FieldCategories, "", strings.Join(cats, ","))
	}
	b.addText(govcard.FieldNote, "personalNotes", str(c.GetPersonalNotes()))

	// Outlook-only fields.
	b.addText(propPhoneticFirst, "yomiGivenName", str(c.GetYomiGivenName()))
	b.addText(propPhoneticLast, "yomiSurname", str(c.GetYomiSurname()))
	b.addText(propPhoneticOrg, "yomiCompanyName", str(c.GetYomiCompanyName()))
	b.addText(propFileAs, "fileAs", str(c.GetFileAs()))
	b.addText(propInitials, "initials", str(c.GetInitials()))

	if photo != nil {
		b.photo(photo)
	}
	if t := c.GetCreatedDateTime(); t != nil {
		b.add(propCreated, "", b.stamp(*t))
	}
	if t := c.GetLastModifiedDateTime(); t != nil {
		b.add(govcard.FieldRevision, "", b.stamp(*t))
	}

	b.uncarried(c)
}

// Outlook stores a birthday without a year in year 1604 (as Apple does).
const noYear = 1604

// X- properties for what vCard has no standard property for.
const (
	propEmailName     = "X-MS-EMAIL-NAME"
	propOffice        = "X-MS-OFFICE-LOCATION"
	propFileAs        = "X-MS-FILE-AS"
	propInitials      = "X-MS-INITIALS"
	propCreated       = "X-MS-CREATED"
	propIM            = "X-MS-IMADDRESS"
	propAssistant     = "X-ASSISTANT"
	propManager       = "X-MANAGER"
	propSpouse        = "X-SPOUSE"
	propChild         = "X-CHILD"
	propPhoneticFirst = "X-PHONETIC-FIRST-NAME"
	propPhoneticLast  = "X-PHONETIC-LAST-NAME"
	propPhoneticOrg   = "X-PHONETIC-ORG"
)

// types returns TYPE parameters, upper case in 3.0 by custom.
func (b *builder) types(ts ...string) []string {
	var p []string
	for _, t := range ts {
		if !b.v4 {
			t = strings.ToUpper(t)
		}
		p = append(p, govcard.ParamType, t)
	}
	return p
}

func (b *builder) stamp(t time.Time) string {
	t = t.UTC()
	if b.v4 {
		return t.Format("20060102T150405Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

func (b *builder) address(field string, a models.PhysicalAddressable, typ string) {
	if a == nil {
		return
	}
	street := b.text(field+".street", str(a.GetStreet()))
	city := b.text(field+".city", str(a.GetCity()))
	state := b.text(field+".state", str(a.GetState()))
	code := b.text(field+".postalCode", str(a.GetPostalCode()))
	country := b.text(field+".countryOrRegion", str(a.GetCountryOrRegion()))
	if street+city+state+code+country == "" {
		return // Graph sends {} for "no address"
	}
	var params []string
	if typ != "" {
		params = b.types(typ)
	}
	b.add(govcard.FieldAddress, "", compound("", "", street, city, state, code, country), params...)
}

func (b *builder) photo(photo []byte) {
	if len(photo) == 0 {
		return
	}
	mt := http.DetectContentType(photo)
	if !strings.HasPrefix(mt, "image/") {
		b.warn("photo: not a known image format (%s), carried as bytes", mt)
		mt = "application/octet-stream"
	}
	data := base64.StdEncoding.EncodeToString(photo)
	if b.v4 {
		b.add(govcard.FieldPhoto, "", escapeURI("data:"+mt+";base64,"+data))
		return
	}
	params := []string{"ENCODING", "b"}
	if sub, ok := strings.CutPrefix(mt, "image/"); ok {
		params = append(params, govcard.ParamType, strings.ToUpper(sub))
	}
	b.add(govcard.FieldPhoto, "", data, params...)
}

// uncarried warns about what the payload holds that no vCard property carries.
func (b *builder) uncarried(c models.Contactable) {
	if n := len(c.GetExtensions()); n > 0 {
		b.warn("%d open extension(s) not carried", n)
	}
	if n := len(c.GetSingleValueExtendedProperties()); n > 0 {
		b.warn("%d single-value extended propert(ies) not carried", n)
	}
	if n := len(c.GetMultiValueExtendedProperties()); n > 0 {
		b.warn("%d multi-value extended propert(ies) not carried", n)
	}
	var unknown []string
	for k, v := range c.GetAdditionalData() {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") || v == nil {
			continue // OData annotations, and nulls, carry nothing
		}
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		b.warn("property %q not carried", k)
	}
}

// fallbackName composes FN when displayName is empty, from what identifies the contact best.
func fallbackName(c models.Contactable) string {
	var parts []string
	for _, p := range []*string{c.GetTitle(), c.GetGivenName(), c.GetMiddleName(), c.GetSurname(), c.GetGeneration()} {
		if s := strings.TrimSpace(str(p)); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	for _, p := range []*string{c.GetFileAs(), c.GetNickName(), c.GetCompanyName()} {
		if s := strings.TrimSpace(str(p)); s != "" {
			return s
		}
	}
	for _, e := range c.GetEmailAddresses() {
		if e == nil {
			continue
		}
		if s := strings.TrimSpace(str(e.GetName())); s != "" {
			return s
		}
		if s := strings.TrimSpace(str(e.GetAddress())); s != "" {
			return s
		}
	}
	phones := append([]string{str(c.GetMobilePhone())}, c.GetBusinessPhones()...)
	for _, p := range append(phones, c.GetHomePhones()...) {
		if s := strings.TrimSpace(p); s != "" {
			return s
		}
	}
	return ""
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// hasScheme reports whether s starts with a URI scheme ("sip:", "xmpp:", "ms-sip:"…).
func hasScheme(s string) bool { return schemeRE.MatchString(s) }

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 }

// clean makes s fit a vCard value: line ends become "\n" (escaped later as \n), and control
// characters vCard cannot carry (all C0 but TAB and LF, DEL, C1) are removed; invalid UTF-8
// becomes U+FFFD. dropped says whether anything was removed.
func clean(s string) (out string, dropped bool) {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError }) {
		return s, false
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var w strings.Builder
	for _, r := range s {
		switch {
		case r == '\r':
			w.WriteByte('\n')
		case r == '\n' || r == '\t':
			w.WriteRune(r)
		case r < ' ' || (r >= 0x7f && r < 0xa0):
			dropped = true
		default:
			w.WriteRune(r) // invalid UTF-8 is written as U+FFFD
		}
	}
	return w.String(), dropped
}

// escape writes a TEXT value (RFC 6350 §3.4): backslash, comma, semicolon and newline are
// escaped everywhere, which 3.0 requires and 4.0 readers accept.
func escape(s string) string { return textEscaper.Replace(s) }

var textEscaper = strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`)

// escapeURI writes a URI value (URL, IMPP, PHOTO's data: URI). RFC 6350 §3.4 asks for
// escaped commas in every value "for consistency", and servers read URIs as text: Radicale
// (vobject) cuts a URL or a data: URI at its first bare comma, Cyrus unescapes "\,". A
// semicolon needs no escape outside compound values and stays as it is.
func escapeURI(s string) string { return uriEscaper.Replace(s) }

var uriEscaper = strings.NewReplacer(`\`, `\\`, ",", `\,`, "\n", `\n`)

// compound joins escaped components with ';' (N, ADR, ORG).
func compound(parts ...string) string {
	for i, p := range parts {
		parts[i] = escape(p)
	}
	return strings.Join(parts, ";")
}

// encode writes the card: BEGIN, VERSION, the properties in the order added, END; CRLF line
// ends, lines folded at 75 octets.
func (b *builder) encode(version string) []byte {
	var buf bytes.Buffer
	buf.WriteString("BEGIN:VCARD\r\n")
	writeFolded(&buf, "VERSION:"+version)
	for _, l := range b.lines {
		writeFolded(&buf, contentLine(l.name, l.field))
	}
	buf.WriteString("END:VCARD\r\n")
	return buf.Bytes()
}

func contentLine(name string, f *govcard.Field) string {
	var s strings.Builder
	if f.Group != "" {
		s.WriteString(f.Group + ".")
	}
	s.WriteString(name)
	keys := make([]string, 0, len(f.Params))
	for k := range f.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.WriteString(";" + k + "=")
		for i, v := range f.Params[k] {
			if i > 0 {
				s.WriteByte(',')
			}
			s.WriteString(paramValue(v))
		}
	}
	s.WriteString(":" + f.Value)
	return s.String()
}

// paramValue quotes a parameter value when it holds a separator. Our parameter values are
// constants and numbers; a double quote, which no quoting can carry, is dropped.
func paramValue(v string) string {
	v = strings.ReplaceAll(v, `"`, "")
	if strings.ContainsAny(v, ",;:") {
		return `"` + v + `"`
	}
	return v
}

// writeFolded writes one content line, folded so that no line exceeds 75 octets (RFC 6350
// §3.2), never inside a UTF-8 sequence.
func writeFolded(buf *bytes.Buffer, line string) {
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		buf.WriteString(line[:cut])
		buf.WriteString("\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	buf.WriteString(line)
	buf.WriteString("\r\n")
}
