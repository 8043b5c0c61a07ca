package tz

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

func TestIANA(t *testing.T) {
	for id, want := range map[string]string{
		"Romance Standard Time":           "Europe/Paris",
		"romance standard time":           "Europe/Paris",
		"Pacific Standard Time":           "America/Los_Angeles",
		"Pacific Standard Time (Mexico)":  "America/Tijuana", // "001" row, not the MX list
		"Central Standard Time (Mexico)":  "America/Mexico_City",
		"India Standard Time":             "Asia/Calcutta", // CLDR keeps the legacy name
		"FLE Standard Time":               "Europe/Kiev",
		"UTC":                             "Etc/UTC",
		"tzone://Microsoft/Utc":           "Etc/UTC",
		"Europe/Berlin":                   "Europe/Berlin", // IANA passes through
		"America/Argentina/Buenos_Aires":  "America/Argentina/Buenos_Aires",
		" W. Europe Standard Time ":       "Europe/Berlin",
		"Dateline Standard Time":          "Etc/GMT+12",
		"Tokyo Standard Time":             "Asia/Tokyo",
		"AUS Eastern Standard Time":       "Australia/Sydney",
		"E. South America Standard Time":  "America/Sao_Paulo",
		"Greenwich Standard Time":         "Atlantic/Reykjavik",
		"GMT Standard Time":               "Europe/London",
		"Morocco Standard Time":           "Africa/Casablanca",
		"Lord Howe Standard Time":         "Australia/Lord_Howe",
		"Chatham Islands Standard Time":   "Pacific/Chatham",
		"Iran Standard Time":              "Asia/Tehran",
		"Israel Standard Time":            "Asia/Jerusalem",
		"Samoa Standard Time":             "Pacific/Apia",
		"Line Islands Standard Time":      "Pacific/Kiritimati",
		"Mountain Standard Time (Mexico)": "America/Chihuahua",
	} {
		got, ok := IANA(id)
		if !ok || got != want {
			t.Errorf("IANA(%q) = %q, %v; want %q", id, got, ok, want)
		}
		if _, ok := Location(id); !ok {
			t.Errorf("Location(%q) failed", id)
		}
	}
	for _, bad := range []string{"", "Local", "tzone://Microsoft/Custom", "Nowhere Standard Time", "../../etc/passwd", "/etc/localtime", "Europe/Paris\x00", "Mars/Olympus_Mons"} {
		if got, ok := IANA(bad); ok {
			t.Errorf("IANA(%q) = %q, want unknown", bad, got)
		}
	}
}

// Every CLDR target must load in Go's tzdata: the generated table and Go agree.
func TestTableLoads(t *testing.T) {
	if len(windowsToIANA) < 130 {
		t.Fatalf("only %d Windows ids", len(windowsToIANA))
	}
	for w, name := range windowsToIANA {
		if _, err := time.LoadLocation(name); err != nil {
			t.Errorf("%q → %q: %v", w, name, err)
		}
	}
}

// The committed table is what the generator makes of the installed CLDR data.
func TestGeneratedUpToDate(t *testing.T) {
	const src = "/usr/share/unicode/cldr/common/supplemental/windowsZones.xml"
	if _, err := os.Stat(src); err != nil {
		t.Skipf("%s absent (apt-get install unicode-cldr-core): not checking the generated table", src)
	}
	out := t.TempDir() + "/w.go"
	cmd := execCommand("go", "run", "./gen", "-in", src, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile("windowszones.go")
	if !bytes.Equal(got, want) {
		t.Errorf("windowszones.go is stale: run go generate ./transform/tz")
	}
}

// onset is an instant from which an observance's offset applies.
type onset struct {
	at  time.Time
	off int
}

func parseOffset(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 {
		t.Fatalf("bad UTC offset %q", s)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	v := h*3600 + m*60 + sec
	if s[0] == '-' {
		v = -v
	}
	return v
}

// interpret expands a VTIMEZONE the way RFC 5545 §3.6.5 says a client does, with rrule-go
// for the RRULEs, up to limit.
func interpret(t *testing.T, vtz *ical.Component, limit time.Time) []onset {
	t.Helper()
	var out []onset
	for _, c := range vtz.Children {
		from := parseOffset(t, c.Props.Get(ical.PropTimezoneOffsetFrom).Value)
		to := parseOffset(t, c.Props.Get(ical.PropTimezoneOffsetTo).Value)
		wall := func(v string) time.Time {
			w, err := time.Parse("20060102T150405", v)
			if err != nil {
				t.Fatalf("bad local time %q", v)
			}
			return w
		}
		add := func(w time.Time) { out = append(out, onset{w.Add(-time.Duration(from) * time.Second), to}) }
		start := wall(c.Props.Get(ical.PropDateTimeStart).Value)
		add(start)
		for _, p := range c.Props.Values(ical.PropRecurrenceDates) {
			for _, v := range strings.Split(p.Value, ",") {
				add(wall(v))
			}
		}
		if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
			opt, err := rrule.StrToROption(p.Value)
			if err != nil {
				t.Fatalf("RRULE %q: %v", p.Value, err)
			}
			opt.Dtstart = start
			if !opt.Until.IsZero() {
				opt.Until = opt.Until.Add(time.Duration(from) * time.Second) // UTC → wall
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range r.Between(start, limit.Add(48*time.Hour), true) {
				add(w)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

func offsetAt(ons []onset, at time.Time) (int, bool) {
	i := sort.Search(len(ons), func(i int) bool { return ons[i].at.After(at) })
	if i == 0 {
		return 0, false
	}
	return ons[i-1].off, true
}

// checkZone builds the VTIMEZONE of name for [from, to] and compares the offsets it
// implies with Go's at every transition in the range (just before and at it) and weekly.
func checkZone(t *testing.T, name string, from, to time.Time) *ical.Component {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	vtz := VTimezone(loc, from, to)
	// go-ical accepts it and it survives a round trip.
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//test//EN")
	cal.Children = append(cal.Children, vtz)
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		t.Fatalf("%s: encode: %v", name, err)
	}
	back, err := ical.NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	ons := interpret(t, back.Children[0], to)
	check := func(at time.Time) {
		_, want := at.In(loc).Zone()
		got, ok := offsetAt(ons, at)
		if !ok || got != want {
			t.Errorf("%s [%s, %s]: at %s VTIMEZONE says %d (known %v), Go says %d\n%s", name, from.Format(time.DateOnly), to.Format(time.DateOnly), at.Format(time.RFC3339), got, ok, want, buf.String())
			t.FailNow()
		}
	}
	check(from)
	check(to)
	for at := from; at.Before(to); at = at.Add(7 * 24 * time.Hour) {
		check(at)
	}
	at := from
	_, end := from.In(loc).ZoneBounds()
	for {
		at = nextBound(loc, at, end)
		if at.IsZero() || at.After(to) {
			break
		}
		check(at.Add(-time.Second))
		check(at)
		_, end = at.In(loc).ZoneBounds()
	}
	return vtz
}

func testZones() []string {
	seen := map[string]bool{}
	var zones []string
	for _, z := range windowsToIANA {
		if !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	for _, z := range []string{"Europe/Dublin", "America/Santiago", "Asia/Gaza", "America/Asuncion", "Antarctica/Troll", "Pacific/Norfolk", "America/Havana", "Europe/Moscow", "Africa/Cairo", "America/Godthab", "Asia/Kolkata", "Europe/Kyiv"} {
		if !seen[z] {
			zones = append(zones, z)
		}
	}
	sort.Strings(zones)
	return zones
}

func TestVTimezoneManyZones(t *testing.T) {
	d := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	ranges := [][2]time.Time{
		{d(2020), d(2027)},
		{d(1995), d(2040)},
		{d(1890), d(1960)}, // local mean time, offsets with seconds, wartime rules
		{time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC), time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC)}, // at a transition
	}
	zones := testZones()
	for _, z := range zones {
		for _, r := range ranges {
			checkZone(t, z, r[0], r[1])
		}
	}
	t.Logf("%d zones × %d ranges", len(zones), len(ranges))
}

// The zone's current rule is written as an open-ended RRULE, so clients get offsets right
// past the range too; past changes in the range are written as they were.
func TestVTimezoneShape(t *testing.T) {
	from, to := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vtz := checkZone(t, "Europe/Paris", from, to)
	var got []string
	for _, c := range vtz.Children {
		got = append(got, fmt.Sprintf("%s %s %s→%s %s", c.Name, c.Props.Get("DTSTART").Value, c.Props.Get("TZOFFSETFROM").Value, c.Props.Get("TZOFFSETTO").Value, c.Props.Get("RRULE").Value))
	}
	want := []string{
		"STANDARD 20191027T030000 +0200→+0100 FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
		"DAYLIGHT 20200329T020000 +0100→+0200 FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Europe/Paris VTIMEZONE:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Open-ended: right in 2060 as well.
	ons := interpret(t, vtz, time.Date(2061, 1, 1, 0, 0, 0, 0, time.UTC))
	loc, _ := time.LoadLocation("Europe/Paris")
	for _, at := range []time.Time{time.Date(2060, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2060, 12, 1, 0, 0, 0, 0, time.UTC)} {
		_, want := at.In(loc).Zone()
		if got, _ := offsetAt(ons, at); got != want {
			t.Errorf("2060: %d, want %d", got, want)
		}
	}

	// Moscow 2010-2016: the 2011 and 2014 changes are there, no open-ended DST rule.
	vtz = checkZone(t, "Europe/Moscow", time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, c := range vtz.Children {
		if r := c.Props.Get("RRULE"); r != nil && !strings.Contains(r.Value, "UNTIL=") {
			t.Errorf("Moscow: open-ended %s", r.Value)
		}
	}
	// A fixed zone: one observance.
	vtz = checkZone(t, "Asia/Tokyo", from, to)
	if len(vtz.Children) != 1 {
		t.Errorf("Asia/Tokyo: %d observances", len(vtz.Children))
	}
	// US rule: second Sunday of March, first of November.
	vtz = checkZone(t, "America/New_York", from, to)
	var rules []string
	for _, c := range vtz.Children {
		if r := c.Props.Get("RRULE"); r != nil {
			rules = append(rules, r.Value)
		}
	}
	sort.Strings(rules)
	if strings.Join(rules, " ") != "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU FREQ=YEARLY;BYMONTH=3;BYDAY=2SU" {
		t.Errorf("America/New_York rules: %v", rules)
	}
}
