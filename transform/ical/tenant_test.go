package ical

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	ics "github.com/emersion/go-ical"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform/internal/tenantgolden"
)

// tenantOptions are those of a run with --time-zone "Romance Standard Time" (the fallback
// for tzone://Microsoft/Custom) and the default MaxInline: the tenant's 3.5 MB attachment
// is named in the warnings, not inlined.
var tenantOptions = Options{MailboxTimeZone: "Romance Standard Time"}

const tenantDir = "testdata/tenant"

// The window of the semantic cross-check.
var (
	crossFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	crossTo   = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
)

func loadTenant(tb testing.TB) *tenantgolden.Data {
	tb.Helper()
	d, err := tenantgolden.Load()
	if err != nil {
		tb.Fatalf("reading the emulator's tenant: %v", err)
	}
	return d
}

// TestTenant converts every event and task of the emulator's tenant, read through the real
// extractor, and compares each with its golden file in testdata/tenant (-update rewrites
// them); reads each golden back; and expands every event of the tenant from its iCalendar
// to compare the occurrences with the emulator's own (tenant.Event.Instances): same UTC
// starts, subjects and attendees, zero differences.
func TestTenant(t *testing.T) {
	d := loadTenant(t)
	items := append(d.Kind(model.KindCalendar), d.Kind(model.KindTasks)...)
	if len(items) < 50 {
		t.Fatalf("only %d events and tasks in the tenant", len(items))
	}
	type converted struct {
		item tenantgolden.Item
		res  Result
	}
	byName := map[string]converted{}
	var names []string
	for _, it := range items {
		conv := Event
		if it.Record.Kind == model.KindTasks {
			conv = Task
		}
		res, err := conv(it.Record.Payload, tenantOptions)
		if err != nil {
			t.Errorf("%s (%q of %s): %v", it.Name(), it.Record.Subject, it.Mailbox.Address, err)
			continue
		}
		name := it.Name()
		if prev, ok := byName[name]; ok {
			// The same record seen from two mailboxes (a shared calendar) must convert the same.
			if prev.item.Record.ID != it.Record.ID {
				t.Fatalf("records %s and %s share the name %s", prev.item.Record.ID, it.Record.ID, name)
			}
			if !bytes.Equal(prev.res.Data, res.Data) || !slices.Equal(prev.res.Warnings, res.Warnings) {
				t.Errorf("%s converts differently as read from %s and from %s", name, prev.item.Mailbox.Address, it.Mailbox.Address)
			}
			continue
		}
		byName[name] = converted{it, res}
		names = append(names, name)
	}
	sort.Strings(names)

	t.Run("golden", func(t *testing.T) {
		files := map[string][]byte{}
		var index strings.Builder
		index.WriteString("# golden\twarnings\tmailbox\tcollection\tsubject (the emulator's tenant.Small, read through extract/graph)\n")
		for _, name := range names {
			c := byName[name]
			files[name+".ics"] = c.res.Data
			if len(c.res.Warnings) > 0 {
				files[name+".warnings.txt"] = []byte(strings.Join(c.res.Warnings, "\n") + "\n")
			}
			fmt.Fprintf(&index, "%s\t%d\t%s\t%s\t%s\n", name, len(c.res.Warnings), c.item.Mailbox.Address, c.item.Collection.Name, c.item.Record.Subject)
		}
		files["index.txt"] = []byte(index.String())
		tenantgolden.CompareDir(t, tenantDir, files, *update, "*.ics", "*.warnings.txt", "index.txt")
	})

	t.Run("readback", func(t *testing.T) {
		for _, name := range names {
			c := byName[name]
			data, err := os.ReadFile(filepath.Join(tenantDir, name+".ics"))
			if err != nil {
				t.Errorf("%v (run with -update)", err)
				continue
			}
			readBack(t, name, data, c.item, c.res.UID)
		}
	})

	t.Run("occurrences", func(t *testing.T) {
		masters, occs, exceptions, cancelled := 0, 0, 0, 0
		checked := map[string]bool{}
		for _, name := range names {
			c := byName[name]
			if c.item.Record.Kind != model.KindCalendar {
				continue
			}
			ev, ok := d.Event(c.item.Record.ID)
			if !ok {
				t.Errorf("%s: event %s not in the tenant", name, c.item.Record.ID)
				continue
			}
			checked[ev.ID] = true
			want, err := ev.Instances(crossFrom, crossTo)
			if err != nil {
				t.Errorf("%s: Instances: %v", name, err)
				continue
			}
			var wantOccs []tenantOcc
			for _, in := range want {
				if !in.IsCancelled && !in.Start.Before(crossFrom) && in.Start.Before(crossTo) {
					var as []string
					for _, a := range in.Attendees {
						as = append(as, strings.ToLower(a.Email.Address))
					}
					sort.Strings(as)
					wantOccs = append(wantOccs, tenantOcc{in.Start.UTC(), in.Subject, strings.Join(as, ",")})
				}
			}
			got, err := expandCalendar(c.res.Data, crossFrom, crossTo)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if missing, extra := diffOccs(wantOccs, got); len(missing)+len(extra) > 0 {
				t.Errorf("%s (%q, %s): %d occurrences from the emulator, %d from the iCalendar; missing (%d): %v; extra (%d): %v",
					name, ev.Subject, ev.Type, len(wantOccs), len(got), len(missing), head(missing, 10), len(extra), head(extra, 10))
			}
			if ev.Type == "seriesMaster" {
				masters++
				exceptions += len(ev.Exceptions)
				cancelled += len(ev.Cancelled)
			}
			occs += len(wantOccs)
		}
		// Every event of every mailbox was read and compared.
		want := 0
		for _, u := range d.Tenant.Users() {
			for _, ev := range d.Tenant.Events(u.ID, "") {
				if !checked[ev.ID] {
					t.Errorf("event %s (%q of %s) was not read", ev.ID, ev.Subject, u.UPN)
				}
				if ev.Type == "seriesMaster" {
					want++
				}
			}
		}
		if masters != want || masters < 10 || exceptions == 0 || cancelled == 0 {
			t.Errorf("%d series masters compared (%d exceptions, %d cancelled occurrences), the tenant has %d", masters, exceptions, cancelled, want)
		}
		t.Logf("%d events (%d series masters, %d exceptions, %d cancelled occurrences), %d occurrences compared over %s..%s",
			len(checked), masters, exceptions, cancelled, occs, crossFrom.Format(time.DateOnly), crossTo.Format(time.DateOnly))
	})
}

// readBack decodes a golden with go-ical: one calendar of VTIMEZONEs and VEVENTs or one
// VTODO, each with the UID, the main component with the record's subject and the zones it
// names defined.
func readBack(t *testing.T, name string, data []byte, it tenantgolden.Item, uid string) {
	t.Helper()
	cal, err := ics.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Errorf("%s: go-ical cannot read the golden: %v", name, err)
		return
	}
	if v, _ := cal.Props.Text(ics.PropVersion); v != "2.0" {
		t.Errorf("%s: VERSION %q", name, v)
	}
	want := ics.CompEvent
	if it.Record.Kind == model.KindTasks {
		want = ics.CompToDo
	}
	zones := map[string]bool{}
	mains := 0
	for _, c := range cal.Children {
		switch c.Name {
		case ics.CompTimezone:
			id, _ := c.Props.Text(ics.PropTimezoneID)
			if _, err := time.LoadLocation(id); err != nil {
				t.Errorf("%s: VTIMEZONE %q is not an IANA zone", name, id)
			}
			zones[id] = true
			continue
		case want:
		default:
			t.Errorf("%s: unexpected %s", name, c.Name)
			continue
		}
		if got, _ := c.Props.Text(ics.PropUID); got != uid {
			t.Errorf("%s: UID %q, want %q", name, got, uid)
		}
		for _, props := range c.Props {
			for _, p := range props {
				if tzid := p.Params.Get(ics.ParamTimezoneID); tzid != "" && !zones[tzid] {
					t.Errorf("%s: %s names TZID %q, which no VTIMEZONE before it defines", name, p.Name, tzid)
				}
			}
		}
		if c.Props.Get(ics.PropRecurrenceID) != nil {
			continue
		}
		mains++
		if s, _ := c.Props.Text(ics.PropSummary); s != it.Record.Subject {
			t.Errorf("%s: SUMMARY %q, want %q", name, s, it.Record.Subject)
		}
		if _, err := c.Props.DateTime(ics.PropDateTimeStamp, time.UTC); err != nil {
			t.Errorf("%s: DTSTAMP: %v", name, err)
		}
	}
	if mains != 1 {
		t.Errorf("%s: %d %s without RECURRENCE-ID, want 1", name, mains, want)
	}
}

// expandCalendar lists the occurrences starting in [from, to) of one converted event, as a
// client computes them: go-ical's RecurrenceSet for the master's RRULE, its EXDATEs and
// RDATEs, overrides replacing the occurrences their RECURRENCE-ID names (dropped when
// CANCELLED). RecurrenceSet adds every EXDATE as an RDATE as well (and ignores RDATE): the
// set's RDATEs are replaced by DTSTART (RFC 5545: always an instance) and the RDATE
// properties.
func expandCalendar(data []byte, from, to time.Time) ([]tenantOcc, error) {
	cal, err := ics.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		return nil, err
	}
	var master *ics.Component
	overrides := map[int64]*ics.Component{}
	for _, c := range cal.Children {
		if c.Name != ics.CompEvent {
			continue
		}
		if rid := c.Props.Get(ics.PropRecurrenceID); rid != nil {
			at, err := rid.DateTime(time.UTC)
			if err != nil {
				return nil, fmt.Errorf("RECURRENCE-ID: %w", err)
			}
			overrides[at.Unix()] = c
			continue
		}
		if master != nil {
			return nil, fmt.Errorf("two VEVENTs without RECURRENCE-ID")
		}
		master = c
	}
	if master == nil {
		return nil, fmt.Errorf("no master VEVENT")
	}
	start := func(c *ics.Component) (tenantOcc, error) {
		st, err := c.Props.DateTime(ics.PropDateTimeStart, time.UTC)
		if err != nil {
			return tenantOcc{}, fmt.Errorf("DTSTART: %w", err)
		}
		s, _ := c.Props.Text(ics.PropSummary)
		var as []string
		for _, a := range c.Props.Values(ics.PropAttendee) {
			addr := a.Value
			if len(addr) > 7 && strings.EqualFold(addr[:7], "mailto:") {
				addr = addr[7:]
			}
			as = append(as, strings.ToLower(addr))
		}
		sort.Strings(as)
		return tenantOcc{st.UTC(), s, strings.Join(as, ",")}, nil
	}
	mo, err := start(master)
	if err != nil {
		return nil, err
	}
	set, err := master.RecurrenceSet(time.UTC)
	if err != nil {
		return nil, err
	}
	if set == nil {
		if len(overrides) > 0 {
			return nil, fmt.Errorf("overrides without RRULE")
		}
		if mo.start.Before(from) || !mo.start.Before(to) {
			return nil, nil
		}
		return []tenantOcc{mo}, nil
	}
	rdates := []time.Time{set.GetDTStart()}
	for _, p := range master.Props.Values(ics.PropRecurrenceDates) {
		d, err := p.DateTime(time.UTC)
		if err != nil {
			return nil, fmt.Errorf("RDATE: %w", err)
		}
		rdates = append(rdates, d)
	}
	set.SetRDates(rdates)
	var out []tenantOcc
	// From a week early: an override may move an occurrence into the window.
	for _, at := range set.Between(from.AddDate(0, 0, -7), to, true) {
		o := mo
		o.start = at.UTC()
		if ov, ok := overrides[at.Unix()]; ok {
			delete(overrides, at.Unix())
			if s, _ := ov.Props.Text(ics.PropStatus); s == "CANCELLED" {
				continue
			}
			if o, err = start(ov); err != nil {
				return nil, err
			}
		}
		if !o.start.Before(from) && o.start.Before(to) {
			out = append(out, o)
		}
	}
	for at, ov := range overrides {
		o, err := start(ov)
		if err != nil {
			return nil, err
		}
		if (!o.start.Before(from) && o.start.Before(to)) || (at >= from.Unix() && at < to.Unix()) {
			return nil, fmt.Errorf("override RECURRENCE-ID %s matches no occurrence of the rule", time.Unix(at, 0).UTC())
		}
	}
	return out, nil
}

// tenantOcc is one occurrence as the cross-check compares them.
type tenantOcc struct {
	start     time.Time // UTC; midnight UTC for a date
	summary   string
	attendees string // sorted lower-case addresses
}

// diffOccs returns the occurrences only in want and only in got (multisets).
func diffOccs(want, got []tenantOcc) (missing, extra []string) {
	count := map[tenantOcc]int{}
	for _, o := range want {
		count[o]++
	}
	for _, o := range got {
		count[o]--
	}
	for o, n := range count {
		s := o.start.Format(time.RFC3339) + " " + o.summary + " [" + o.attendees + "]"
		for ; n > 0; n-- {
			missing = append(missing, s)
		}
		for ; n < 0; n++ {
			extra = append(extra, s)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… %d more", len(s)-n))
	}
	return s
}

// The payloads of the tenant as fuzz seeds (attachments cut to a few KiB).
func tenantSeeds(f *testing.F, kind model.CollectionKind) {
	d, err := tenantgolden.Load()
	if err != nil {
		f.Fatalf("reading the emulator's tenant: %v", err)
	}
	seen := map[string]bool{}
	for _, it := range d.Kind(kind) {
		if !seen[it.Record.ID] {
			seen[it.Record.ID] = true
			f.Add(tenantgolden.Seed(it.Record.Payload))
		}
	}
}
