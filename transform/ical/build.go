package ical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/transform"
	"github.com/bascule-migrate/bascule/transform/tz"
	ics "github.com/emersion/go-ical"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/teambition/rrule-go"
)

// Options tunes the conversion. The zero value is usable.
type Options struct {
	// Rewrite changes the domain of organizer and attendee addresses.
	Rewrite transform.Rewriter
	// MailboxTimeZone (a Windows or IANA id) stands in for tzone://Microsoft/Custom and for
	// unknown zone ids; when it is empty or unknown too, UTC does. Either way a warning says so.
	MailboxTimeZone string
	// MaxInline is the size up to which an attachment is carried inline
	// (ATTACH;ENCODING=BASE64); larger ones are named in Warnings. 0 means 256 KiB, a negative
	// value carries none.
	MaxInline int64
}

// DefaultMaxInline is MaxInline's default.
const DefaultMaxInline = 256 << 10

// Result is one converted item.
type Result struct {
	// Data is one VCALENDAR (no METHOD, PRODID Bascule), ready for a CalDAV PUT.
	Data []byte
	// UID is the UID of its components.
	UID string
	// Warnings say what could not be carried exactly.
	Warnings []string
}

// ProductID is the PRODID of every calendar Bascule writes.
const ProductID = "-//Bascule//Bascule//EN"

const (
	dateLayout     = "20060102"
	localLayout    = "20060102T150405"
	utcLayout      = "20060102T150405Z"
	minYear        = 1601 // Windows' epoch: nothing in Exchange is older
	maxYear        = 4500 // Exchange's own upper bound is 4500-08-31
	noEndYears     = 30   // how far past the last known date a never-ending series' zones are written
	maxOccurrences = 20000
)

// builder carries what one conversion accumulates.
type builder struct {
	opt      Options
	warnings []string
	warned   map[string]bool
	zones    map[string]*zoneUse
}

type zoneUse struct {
	loc      *time.Location
	from, to time.Time
}

func newBuilder(opt Options) *builder {
	if opt.MaxInline == 0 {
		opt.MaxInline = DefaultMaxInline
	}
	return &builder{opt: opt, warned: map[string]bool{}, zones: map[string]*zoneUse{}}
}

func (b *builder) warnf(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !b.warned[w] {
		b.warned[w] = true
		b.warnings = append(b.warnings, w)
	}
}

// zone resolves a zone id of the item; what names it in a warning.
func (b *builder) zone(id, what string) *time.Location {
	if loc, ok := tz.Location(id); ok {
		return loc
	}
	why := fmt.Sprintf("unknown time zone %q", id)
	if id == "" {
		why = "no time zone"
	} else if strings.EqualFold(id, "tzone://Microsoft/Custom") {
		why = "a custom time zone (tzone://Microsoft/Custom, not exposed by Graph)"
	}
	if loc, ok := tz.Location(b.opt.MailboxTimeZone); ok {
		b.warnf("%s has %s: written in the mailbox time zone %s", what, why, loc)
		return loc
	}
	b.warnf("%s has %s: written in UTC", what, why)
	return time.UTC
}

// use records that times of loc around t are written, for the VTIMEZONE's range.
func (b *builder) use(loc *time.Location, t time.Time) {
	if tz.IsUTC(loc) {
		return
	}
	u, ok := b.zones[loc.String()]
	if !ok {
		b.zones[loc.String()] = &zoneUse{loc: loc, from: t, to: t}
		return
	}
	if t.Before(u.from) {
		u.from = t
	}
	if t.After(u.to) {
		u.to = t
	}
}

// timeProp writes t in loc: TZID=<IANA> and local time, or UTC in the "Z" form.
func (b *builder) timeProp(name string, t time.Time, loc *time.Location) *ics.Prop {
	p := ics.NewProp(name)
	if tz.IsUTC(loc) {
		p.Value = t.UTC().Format(utcLayout)
		return p
	}
	b.use(loc, t)
	p.Params.Set(ics.ParamTimezoneID, loc.String())
	p.Value = t.In(loc).Format(localLayout)
	return p
}

func dateProp(name string, d time.Time) *ics.Prop {
	p := ics.NewProp(name)
	p.Params.Set(ics.ParamValue, string(ics.ValueDate))
	p.Value = d.Format(dateLayout)
	return p
}

func utcProp(name string, t time.Time) *ics.Prop {
	p := ics.NewProp(name)
	p.Value = t.UTC().Format(utcLayout)
	return p
}

func textProp(c *ics.Component, name, value string) {
	value = cleanText(value)
	if strings.TrimSpace(value) == "" {
		return
	}
	p := ics.NewProp(name)
	p.SetText(value)
	c.Props.Set(p)
}

func rawProp(c *ics.Component, name, value string) {
	p := ics.NewProp(name)
	p.Value = value
	c.Props.Set(p)
}

// deriveUID makes a stable UID from a source id when the item has no iCalendar UID.
func deriveUID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "bascule-" + hex.EncodeToString(sum[:20])
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

// parseJSON reads payload with kiota's JSON parse node into the SDK's model made by ctor.
// The parse node is third-party code fed with outside input, so a panic inside it becomes
// an error.
func parseJSON(payload []byte, ctor absser.ParsableFactory) (v absser.Parsable, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed Graph JSON: %v", r)
		}
	}()
	if len(bytes.TrimSpace(payload)) == 0 || bytes.TrimSpace(payload)[0] != '{' {
		return nil, fmt.Errorf("malformed Graph JSON: not an object")
	}
	node, err := jsonserialization.NewJsonParseNode(payload)
	if err != nil {
		return nil, fmt.Errorf("malformed Graph JSON: %w", err)
	}
	v, err = node.GetObjectValue(ctor)
	if err != nil {
		return nil, fmt.Errorf("malformed Graph JSON: %w", err)
	}
	if v == nil {
		return nil, fmt.Errorf("malformed Graph JSON: empty")
	}
	return v, nil
}

// graphTime reads a Graph dateTimeTimeZone: the local dateTime in its timeZone (UTC when
// absent). ok is false when there is no usable value.
func (b *builder) graphTime(dt, zone, what string) (time.Time, bool) {
	dt = strings.TrimSpace(dt)
	if dt == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, dt); err == nil {
		return inRange(t)
	}
	loc := time.UTC
	if zone != "" && !strings.EqualFold(zone, "UTC") {
		loc = b.zone(zone, what)
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, dt, loc); err == nil {
			return inRange(t)
		}
	}
	return time.Time{}, false
}

func inRange(t time.Time) (time.Time, bool) {
	if y := t.UTC().Year(); y < minYear || y > maxYear {
		return time.Time{}, false
	}
	return t, true
}

// graphDate reads the date part of a Graph dateTime as written (an all-day event's dates,
// a task's due date): midnight UTC of that date.
func graphDate(dt string) (time.Time, bool) {
	dt = strings.TrimSpace(dt)
	if len(dt) < 10 {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, dt[:10])
	if err != nil {
		return time.Time{}, false
	}
	return inRange(d)
}

// finish wraps the components in a VCALENDAR with the VTIMEZONEs they use, encodes it,
// folds long lines and checks that go-ical reads it back.
func (b *builder) finish(comps []*ics.Component, uid string, extendZones time.Time) (Result, error) {
	cal := ics.NewCalendar()
	cal.Props.SetText(ics.PropVersion, "2.0")
	cal.Props.SetText(ics.PropProductID, ProductID)
	names := make([]string, 0, len(b.zones))
	for n := range b.zones {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := b.zones[n]
		to := u.to
		if extendZones.After(to) {
			to = extendZones
		}
		cal.Children = append(cal.Children, tz.VTimezone(u.loc, u.from.AddDate(0, 0, -1), to.AddDate(0, 0, 1)))
	}
	cal.Children = append(cal.Children, comps...)
	var buf bytes.Buffer
	if err := ics.NewEncoder(&buf).Encode(cal); err != nil {
		return Result{}, fmt.Errorf("encode iCalendar: %w", err)
	}
	data := fold(buf.Bytes())
	if err := check(data, uid); err != nil {
		return Result{}, fmt.Errorf("the iCalendar made does not read back: %w", err)
	}
	return Result{Data: data, UID: uid, Warnings: b.warnings}, nil
}

// fold breaks content lines longer than 75 octets (RFC 5545 §3.1), never inside a UTF-8
// sequence; go-ical's encoder does not fold.
func fold(in []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(in) + len(in)/64)
	for len(in) > 0 {
		i := bytes.Index(in, []byte("\r\n"))
		line := in
		if i >= 0 {
			line, in = in[:i], in[i+2:]
		} else {
			in = nil
		}
		limit := 75
		for len(line) > limit {
			cut := limit
			for cut > 0 && line[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
				cut--
			}
			out.Write(line[:cut])
			out.WriteString("\r\n ")
			line = line[cut:]
			limit = 74 // the leading space counts
		}
		out.Write(line)
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

// check reads data back with go-ical: one calendar, every component with the UID, every
// RRULE readable by rrule-go.
func check(data []byte, uid string) error {
	cal, err := ics.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		return err
	}
	n := 0
	for _, c := range cal.Children {
		if c.Name != ics.CompEvent && c.Name != ics.CompToDo {
			continue
		}
		n++
		if got, _ := c.Props.Text(ics.PropUID); got != uid {
			return fmt.Errorf("UID %q, want %q", got, uid)
		}
		if _, err := c.Props.RecurrenceRule(); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("no VEVENT or VTODO")
	}
	return nil
}

// mailto renders an address as a cal-address URI, or "" when it cannot be one.
func (b *builder) mailto(addr string) string {
	addr = strings.TrimSpace(cleanParam(addr))
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "mailto:"), "MAILTO:")
	if addr == "" || strings.ContainsAny(addr, " <>\"\\") || !strings.Contains(addr, "@") {
		return ""
	}
	return "mailto:" + b.opt.Rewrite.Address(addr)
}

// validURI reports whether s can be written as a URI value.
func validURI(s string) bool {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}

// ruleSet expands rule (an RRULE value) from dtstart with rrule-go, as a client would.
func ruleSet(rule string, dtstart time.Time) (*rrule.RRule, error) {
	opt, err := rrule.StrToROptionInLocation(rule, dtstart.Location())
	if err != nil {
		return nil, err
	}
	opt.Dtstart = dtstart
	return rrule.NewRRule(*opt)
}
