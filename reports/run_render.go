package reports

import (
	"fmt"
	"time"
)

// maxHTMLRows bounds the rows of a long HTML table; CSV and JSON hold every row.
const maxHTMLRows = 1000

// WriteRun writes the run report into dir: run.html, run-*.csv, run.json (as o.Formats
// says). It never writes outside dir.
func WriteRun(dir string, rep *RunReport, o Options) (*Result, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	l, err := NewLocalizer(o.Lang, o.Location)
	if err != nil {
		return nil, err
	}
	d := runDocument(l, rep, o)
	return write(dir, l, d, o)
}

// enum translates a code of a known domain (prefix+code); an unknown code shows as it is.
func (l *Localizer) enum(prefix, code string) string {
	if code == "" {
		return ""
	}
	if l.Has(prefix + code) {
		return l.T(prefix + code)
	}
	return code
}

// rate is n per minute over a bucket of sec seconds.
func perMinute(n int64, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) * 60 / sec
}

// axisTime is a time axis in the localizer's zone whose ticks show the time of day when the
// span is under a day and a half, else the date.
func (l *Localizer) axisTime(span time.Duration) TimeAxis {
	return TimeAxis{Loc: l.loc, Format: func(t time.Time) string {
		t = t.In(l.loc)
		if span < 36*time.Hour {
			if span < 10*time.Second {
				return t.Format("15:04:05.0")
			}
			if span < 5*time.Minute {
				return t.Format("15:04:05")
			}
			return t.Format("15:04")
		}
		day := l.T("fmt.daymonth", fmt.Sprint(t.Day()), l.msg("month.short."+fmt.Sprint(int(t.Month()))))
		if t.Hour() != 0 || t.Minute() != 0 {
			day += " " + t.Format("15:04")
		}
		return day
	}}
}

func sizeLabel(l *Localizer, b SizeBucket) string {
	switch {
	case b.Min == 0:
		return l.T("range.below", l.roundBytes(b.Max))
	case b.Max == 0:
		return l.T("range.above", l.roundBytes(b.Min))
	}
	return l.T("range.between", l.roundBytes(b.Min), l.roundBytes(b.Max))
}

// roundBytes formats a bucket bound: in decimal units (MB, GB) when it is a round decimal
// number (the audit's buckets: 100 MB, 1 GB …), else in binary units.
func (l *Localizer) roundBytes(n int64) string {
	if n > 0 && n%1_000_000 == 0 && n%(1<<20) != 0 {
		switch {
		case n%1_000_000_000_000 == 0:
			return l.T("unit.tb", l.Int(n/1_000_000_000_000))
		case n%1_000_000_000 == 0:
			return l.T("unit.gb", l.Int(n/1_000_000_000))
		}
		return l.T("unit.mb", l.Int(n/1_000_000))
	}
	return l.Bytes(n)
}

func statusClass(s string) string {
	switch s {
	case "done", "ok":
		return "ok"
	case "failed":
		return "bad"
	case "running", "pending", "interrupted", "inflight":
		return "warn"
	}
	return ""
}

func numCell(s string) cell { return cell{Text: s, Class: "num"} }

func runDocument(l *Localizer, rep *RunReport, o Options) *document {
	c := csvFmt{sep: o.CSVSeparator, loc: o.Location}
	t := rep.Totals
	d := &document{Name: "run", Lang: l.lang, Title: l.T("run.title"), Generated: l.DateTime(o.Generated), Tool: o.Tool, JSON: rep}
	if !t.First.IsZero() {
		d.Subtitle = l.T("run.subtitle", l.DateTime(t.First), l.DateTime(t.Last))
	}
	failedMailboxes := t.MailboxStatus["failed"]
	switch {
	case t.Mailboxes == 0:
		d.Verdict = &verdict{l.T("run.verdict.empty"), "warn"}
	case t.Failed > 0 || failedMailboxes > 0:
		d.Verdict = &verdict{l.T("run.verdict.failed"), "bad"}
	case t.InFlight > 0 || t.MailboxStatus["pending"] > 0 || t.MailboxStatus["running"] > 0:
		d.Verdict = &verdict{l.T("run.verdict.incomplete"), "warn"}
	default:
		d.Verdict = &verdict{l.T("run.verdict.ok"), "ok"}
	}
	tone := func(bad bool, t string) string {
		if bad {
			return t
		}
		return ""
	}
	d.Cards = []card{
		{Label: l.T("run.card.mailboxes"), Value: l.Int(int64(t.Mailboxes))},
		{Label: l.T("run.card.done"), Value: l.Int(t.Done)},
		{Label: l.T("run.card.bytes"), Value: l.Bytes(t.Bytes)},
		{Label: l.T("run.card.failed"), Value: l.Int(t.Failed), Tone: tone(t.Failed > 0, "bad")},
		{Label: l.T("run.card.failed_mailboxes"), Value: l.Int(int64(failedMailboxes)), Tone: tone(failedMailboxes > 0, "bad")},
		{Label: l.T("run.card.inflight"), Value: l.Int(t.InFlight), Tone: tone(t.InFlight > 0, "warn")},
	}

	// Throughput: the run that copied the most items (the main pass; deltas are small).
	thr := section{ID: "throughput", Title: l.T("run.throughput.title")}
	if len(rep.Throughput) > 0 {
		s := rep.Throughput[0]
		for _, x := range rep.Throughput[1:] {
			if sumItems(x) > sumItems(s) {
				s = x
			}
		}
		var items, mib []Point
		for _, p := range s.Points {
			items = append(items, Point{p.Start, perMinute(p.Items, s.BucketSeconds)})
			mib = append(mib, Point{p.Start, perMinute(p.Bytes, s.BucketSeconds) / (1 << 20)})
		}
		step := time.Duration(s.BucketSeconds * float64(time.Second))
		span := time.Duration(len(s.Points)) * step
		tf := l.axisTime(span)
		if s.RunID > 0 {
			thr.Intro = l.T("run.throughput.intro", s.RunID, l.Duration(step))
		} else {
			thr.Intro = l.T("run.throughput.intro_norun", l.Duration(step))
		}
		thr.Charts = append(thr.Charts,
			LineChart("chart-throughput-items", l.T("run.chart.items_per_minute"), l.T("chart.nodata"), items, colBlue, l.Num, tf),
			LineChart("chart-throughput-bytes", l.T("run.chart.mib_per_minute"), l.T("chart.nodata"), mib, colGreen, l.Num, tf))
		if !t.First.IsZero() && t.Last.After(t.First) {
			thr.Notes = append(thr.Notes, l.T("run.throughput.average", l.Num(float64(t.Done)/t.Last.Sub(t.First).Minutes(), 1), l.Duration(t.Last.Sub(t.First))))
		}
	} else {
		thr.Intro = l.T("run.throughput.none")
	}
	d.Sections = append(d.Sections, thr)

	// Kinds.
	ks := section{ID: "kinds", Title: l.T("run.kinds.title")}
	var bars []Bar
	kt := table{Head: []column{{l.T("col.kind"), false}, {l.T("col.done"), true}, {l.T("col.bytes"), true}, {l.T("col.inflight"), true}, {l.T("col.failed"), true}, {l.T("col.deleted"), true}}}
	kcsv := csvTable{Name: "kinds", Head: []string{l.T("col.kind"), l.T("col.done"), l.T("col.bytes_raw"), l.T("col.inflight"), l.T("col.failed"), l.T("col.deleted")}}
	for i, k := range rep.Kinds {
		bars = append(bars, Bar{Label: l.enum("kind.", k.Kind), Value: float64(k.Done), Display: l.Int(k.Done), Color: palette[i%len(palette)]})
		kt.Rows = append(kt.Rows, []cell{{Text: l.enum("kind.", k.Kind)}, numCell(l.Int(k.Done)), numCell(l.Bytes(k.Bytes)), numCell(l.Int(k.InFlight)), failCell(l, k.Failed), numCell(l.Int(k.Deleted))})
		kcsv.Rows = append(kcsv.Rows, []string{l.enum("kind.", k.Kind), c.int(k.Done), c.int(k.Bytes), c.int(k.InFlight), c.int(k.Failed), c.int(k.Deleted)})
	}
	ks.Charts = append(ks.Charts, BarChart("chart-kinds", l.T("run.chart.kinds"), l.T("chart.nodata"), bars))
	kt.Empty = l.T("table.empty")
	ks.Tables = append(ks.Tables, kt)
	d.Sections = append(d.Sections, ks)
	d.CSV = append(d.CSV, kcsv)

	// Sizes.
	ss := section{ID: "sizes", Title: l.T("run.sizes.title"), Intro: l.T("run.sizes.intro")}
	var bins []Bar
	scsv := csvTable{Name: "sizes", Head: []string{l.T("col.size_min"), l.T("col.size_max"), l.T("col.items")}}
	for _, b := range rep.Sizes {
		bins = append(bins, Bar{Label: sizeLabel(l, b), Value: float64(b.Items), Display: l.Int(b.Items)})
		max := ""
		if b.Max > 0 {
			max = c.int(b.Max)
		}
		scsv.Rows = append(scsv.Rows, []string{c.int(b.Min), max, c.int(b.Items)})
	}
	ss.Charts = append(ss.Charts, Histogram("chart-sizes", l.T("run.chart.sizes"), l.T("chart.nodata"), bins, l.Num))
	d.Sections = append(d.Sections, ss)
	d.CSV = append(d.CSV, scsv)

	// Mailboxes.
	ms := section{ID: "mailboxes", Title: l.T("run.mailboxes.title")}
	mt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.target"), false}, {l.T("col.status"), false}, {l.T("col.folders"), true},
		{l.T("col.done"), true}, {l.T("col.bytes"), true}, {l.T("col.inflight"), true}, {l.T("col.failed"), true}, {l.T("col.duration"), true}}, Empty: l.T("table.empty")}
	mcsv := csvTable{Name: "mailboxes", Head: []string{l.T("col.mailbox"), l.T("col.target"), l.T("col.status"), l.T("col.error"), l.T("col.folders"), l.T("col.collections"),
		l.T("col.done"), l.T("col.bytes_raw"), l.T("col.inflight"), l.T("col.failed"), l.T("col.deleted"),
		l.T("kind.mail"), l.T("kind.calendar"), l.T("kind.contacts"), l.T("kind.tasks"), l.T("col.first"), l.T("col.last")}}
	for i, m := range rep.Mailboxes {
		if i < maxHTMLRows {
			dur := ""
			if m.Last.After(m.First) {
				dur = l.Duration(m.Last.Sub(m.First))
			}
			st := cell{Text: l.enum("mbstatus.", m.Status), Class: statusClass(m.Status)}
			mt.Rows = append(mt.Rows, []cell{{Text: m.Address}, {Text: m.Target}, st, numCell(l.Int(int64(m.Folders + m.Collections))),
				numCell(l.Int(m.Done)), numCell(l.Bytes(m.Bytes)), numCell(l.Int(m.InFlight)), failCell(l, m.Failed), numCell(dur)})
		}
		mcsv.Rows = append(mcsv.Rows, []string{c.text(m.Address), c.text(m.Target), l.enum("mbstatus.", m.Status), c.text(m.Error), c.int(int64(m.Folders)), c.int(int64(m.Collections)),
			c.int(m.Done), c.int(m.Bytes), c.int(m.InFlight), c.int(m.Failed), c.int(m.Deleted),
			c.int(m.Kinds["mail"]), c.int(m.Kinds["calendar"]), c.int(m.Kinds["contacts"]), c.int(m.Kinds["tasks"]), c.time(m.First), c.time(m.Last)})
	}
	if n := len(rep.Mailboxes) - maxHTMLRows; n > 0 {
		mt.More = l.Tn("table.more", int64(n))
	}
	ms.Tables = append(ms.Tables, mt)
	d.Sections = append(d.Sections, ms)
	d.CSV = append(d.CSV, mcsv)

	// Failures.
	fs := section{ID: "failures", Title: l.T("run.failures.title")}
	if len(rep.Failures) > 0 {
		fs.Intro = l.Tn("run.failures.intro", int64(len(rep.Failures)))
	}
	ft := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.kind"), false}, {l.T("col.item"), false}, {l.T("col.attempts"), true}, {l.T("col.reason"), false}},
		Empty: l.T("run.failures.none")}
	fcsv := csvTable{Name: "failures", Head: []string{l.T("col.mailbox"), l.T("col.target"), l.T("col.folder"), l.T("col.kind"), l.T("col.item"), l.T("col.attempts"), l.T("col.reason"), l.T("col.updated")}}
	for i, f := range rep.Failures {
		item := f.ItemID
		if item == "" {
			item = l.T("run.failures.whole_mailbox")
		}
		attempts := ""
		if f.Attempts > 0 {
			attempts = l.Int(int64(f.Attempts))
		}
		if i < maxHTMLRows {
			ft.Rows = append(ft.Rows, []cell{{Text: f.Mailbox}, {Text: f.Folder}, {Text: l.enum("kind.", f.Kind)}, {Text: item, Class: "mono"}, numCell(attempts), {Text: f.Error, Class: "bad"}})
		}
		fcsv.Rows = append(fcsv.Rows, []string{c.text(f.Mailbox), c.text(f.Target), c.text(f.Folder), l.enum("kind.", f.Kind), c.text(f.ItemID), c.int(int64(f.Attempts)), c.text(f.Error), c.time(f.Updated)})
	}
	if n := len(rep.Failures) - maxHTMLRows; n > 0 {
		ft.More = l.Tn("table.more", int64(n))
	}
	fs.Tables = append(fs.Tables, ft)
	d.Sections = append(d.Sections, fs)
	d.CSV = append(d.CSV, fcsv)

	// Runs.
	rs := section{ID: "runs", Title: l.T("run.runs.title")}
	rt := table{Head: []column{{l.T("col.run"), true}, {l.T("col.started"), false}, {l.T("col.duration"), true}, {l.T("col.command"), false}, {l.T("col.status"), false},
		{l.T("col.written"), true}, {l.T("col.updated_items"), true}, {l.T("col.deleted"), true}, {l.T("col.failed"), true}, {l.T("col.bytes"), true}}, Empty: l.T("table.empty")}
	rcsv := csvTable{Name: "runs", Head: []string{l.T("col.run"), l.T("col.started"), l.T("col.finished"), l.T("col.command"), l.T("col.status"),
		l.T("col.written"), l.T("col.updated_items"), l.T("col.deleted"), l.T("col.failed"), l.T("col.skipped"), l.T("col.bytes_raw")}}
	for _, r := range rep.Runs {
		dur := ""
		if !r.Finished.IsZero() {
			dur = l.Duration(r.Finished.Sub(r.Started))
		}
		rt.Rows = append(rt.Rows, []cell{numCell(l.Int(r.ID)), {Text: l.DateTime(r.Started)}, numCell(dur), {Text: r.Command, Class: "mono"},
			{Text: l.enum("runstatus.", r.Status), Class: statusClass(r.Status)}, numCell(l.Int(r.Written)), numCell(l.Int(r.Updated)), numCell(l.Int(r.Deleted)), failCell(l, r.Failed), numCell(l.Bytes(r.Bytes))})
		rcsv.Rows = append(rcsv.Rows, []string{c.int(r.ID), c.time(r.Started), c.time(r.Finished), c.text(r.Command), l.enum("runstatus.", r.Status),
			c.int(r.Written), c.int(r.Updated), c.int(r.Deleted), c.int(r.Failed), c.int(r.Skipped), c.int(r.Bytes)})
	}
	rs.Tables = append(rs.Tables, rt)
	d.Sections = append(d.Sections, rs)
	d.CSV = append(d.CSV, rcsv)

	// Throughput CSV: every series.
	tcsv := csvTable{Name: "throughput", Head: []string{l.T("col.run"), l.T("col.bucket_start"), l.T("col.bucket_seconds"), l.T("col.items"), l.T("col.bytes_raw")}}
	for _, s := range rep.Throughput {
		for _, p := range s.Points {
			start := c.time(p.Start)
			if s.BucketSeconds < 1 {
				start = p.Start.In(c.loc).Format("2006-01-02 15:04:05.000")
			}
			tcsv.Rows = append(tcsv.Rows, []string{c.int(s.RunID), start, c.num(s.BucketSeconds, 1), c.int(p.Items), c.int(p.Bytes)})
		}
	}
	d.CSV = append(d.CSV, tcsv)
	return d
}

func failCell(l *Localizer, n int64) cell {
	if n > 0 {
		return cell{Text: l.Int(n), Class: "num bad"}
	}
	return numCell(l.Int(n))
}

func sumItems(s RunSeries) int64 {
	var n int64
	for _, p := range s.Points {
		n += p.Items
	}
	return n
}
