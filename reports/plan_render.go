package reports

import (
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/planner/waves"
)

// WritePlan writes the plan report into dir: plan.html, plan-*.csv and plan.json (the
// waves.Plan itself, the schema of plan.yaml and bascule plan --output json).
func WritePlan(dir string, p *waves.Plan, o Options) (*Result, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	l, err := NewLocalizer(o.Lang, o.Location)
	if err != nil {
		return nil, err
	}
	return write(dir, l, planDocument(l, p, o), o)
}

func planDocument(l *Localizer, p *waves.Plan, o Options) *document {
	c := csvFmt{sep: o.CSVSeparator, loc: o.Location}
	t := p.Totals
	d := &document{Name: "plan", Lang: l.lang, Title: l.T("plan.title"), Generated: l.DateTime(o.Generated), Tool: o.Tool, JSON: p}
	if len(p.Waves) > 0 {
		d.Subtitle = l.Tn("plan.subtitle", int64(len(p.Waves)), l.DateTime(t.Start), l.DateTime(t.End))
	}
	var blocking, warnings int64
	for _, f := range p.Findings {
		switch f.Severity {
		case waves.Blocking:
			blocking++
		case waves.Warning:
			warnings++
		}
	}
	switch {
	case blocking > 0:
		d.Verdict = &verdict{l.Tn("plan.verdict.blocking", blocking), "bad"}
	case warnings > 0:
		d.Verdict = &verdict{l.Tn("plan.verdict.warning", warnings), "warn"}
	case !p.Options.Sized:
		d.Verdict = &verdict{l.T("plan.verdict.unsized"), "warn"}
	default:
		d.Verdict = &verdict{l.T("plan.verdict.ok"), "ok"}
	}
	window := secs(p.Options.WindowSeconds)
	windowText := l.T("plan.window.none")
	if window > 0 {
		windowText = l.Duration(window)
	}
	d.Cards = []card{
		{Label: l.T("plan.card.waves"), Value: l.Int(int64(t.Waves))},
		{Label: l.T("plan.card.mailboxes"), Value: l.Int(int64(t.Mailboxes))},
		{Label: l.T("plan.card.groups"), Value: l.Int(int64(t.Groups))},
		{Label: l.T("plan.card.bytes"), Value: bytesOrDash(l, t.Bytes)},
		{Label: l.T("plan.card.window"), Value: windowText},
		{Label: l.T("plan.card.end"), Value: l.Date(t.End)},
	}

	// Schedule.
	ss := section{ID: "schedule", Title: l.T("plan.schedule.title")}
	ss.Intro = l.Tn("plan.schedule.intro", int64(p.Options.Workers), l.Int(int64(p.Options.MailboxParallel)), windowText)
	if p.Options.EverySeconds > 0 {
		ss.Notes = append(ss.Notes, l.T("plan.schedule.every", l.Duration(secs(p.Options.EverySeconds))))
	}
	if !p.Options.Sized {
		ss.Notes = append(ss.Notes, l.T("plan.schedule.unsized"))
	}
	var rows []GanttRow
	var wbars []Bar
	wt := table{Head: []column{{l.T("col.wave"), true}, {l.T("col.started"), false}, {l.T("col.end"), false}, {l.T("col.duration"), true},
		{l.T("col.mailboxes"), true}, {l.T("col.items"), true}, {l.T("col.bytes"), true}, {l.T("col.notes"), false}}, Empty: l.T("table.empty")}
	wcsv := csvTable{Name: "waves", Head: []string{l.T("col.wave"), l.T("col.started"), l.T("col.end"), l.T("col.duration_seconds"), l.T("col.mailboxes"),
		l.T("col.items"), l.T("col.bytes_raw"), l.T("col.pinned"), l.T("col.over_window")}}
	for _, w := range p.Waves {
		col := waveColor(w.Number)
		var notes []string
		if w.Pinned {
			notes = append(notes, l.T("plan.wave.pinned"))
		}
		if w.OverWindow {
			notes = append(notes, l.T("plan.wave.over_window"))
		}
		row := GanttRow{Label: l.T("plan.wave", w.Number), Start: w.Start, End: w.End, Color: col,
			Note: l.Tn("plan.wave.note", int64(len(w.Mailboxes)), bytesOrDash(l, w.Bytes))}
		if window > 0 {
			row.WindowEnd = w.Start.Add(window)
		}
		rows = append(rows, row)
		if p.Options.Sized {
			wbars = append(wbars, Bar{Label: l.T("plan.wave", w.Number), Value: w.DurationSeconds, Display: l.Duration(secs(w.DurationSeconds)), Color: col})
		} else {
			wbars = append(wbars, Bar{Label: l.T("plan.wave", w.Number), Value: float64(len(w.Mailboxes)), Display: l.Tn("plan.mailboxes", int64(len(w.Mailboxes))), Color: col})
		}
		dc := numCell(l.Duration(secs(w.DurationSeconds)))
		if w.OverWindow {
			dc.Class = "num bad"
		}
		wt.Rows = append(wt.Rows, []cell{numCell(strconv.Itoa(w.Number)), {Text: l.DateTime(w.Start)}, {Text: l.DateTime(w.End)}, dc,
			numCell(l.Int(int64(len(w.Mailboxes)))), numCell(l.Int(w.Items)), numCell(bytesOrDash(l, w.Bytes)), {Text: strings.Join(notes, " ; ")}})
		wcsv.Rows = append(wcsv.Rows, []string{strconv.Itoa(w.Number), c.time(w.Start), c.time(w.End), c.num(w.DurationSeconds, 0), c.int(int64(len(w.Mailboxes))),
			c.int(w.Items), c.int(w.Bytes), yesNo(l, w.Pinned), yesNo(l, w.OverWindow)})
	}
	span := time.Duration(0)
	if len(p.Waves) > 0 {
		span = t.End.Sub(t.Start)
		if window > 0 && p.Waves[len(p.Waves)-1].Start.Add(window).Sub(t.Start) > span {
			span = p.Waves[len(p.Waves)-1].Start.Add(window).Sub(t.Start)
		}
	}
	ss.Charts = append(ss.Charts, Gantt("chart-waves", l.T("plan.chart.timeline"), l.T("chart.nodata"), rows, l.axisTime(span)))
	title := l.T("plan.chart.durations")
	if !p.Options.Sized {
		title = l.T("plan.chart.counts")
	}
	ss.Charts = append(ss.Charts, BarChart("chart-wave-load", title, l.T("chart.nodata"), wbars))
	ss.Tables = append(ss.Tables, wt)
	d.Sections = append(d.Sections, ss)
	d.CSV = append(d.CSV, wcsv)

	// Findings.
	fs := section{ID: "findings", Title: l.T("plan.findings.title")}
	ft := table{Head: []column{{l.T("col.severity"), false}, {l.T("col.wave"), true}, {l.T("col.finding"), false}, {l.T("col.mailboxes"), false}, {l.T("col.action"), false}},
		Empty: l.T("plan.findings.none")}
	fcsv := csvTable{Name: "findings", Head: []string{l.T("col.severity"), l.T("col.code"), l.T("col.wave"), l.T("col.finding"), l.T("col.mailboxes"), l.T("col.action")}}
	for _, f := range p.Findings {
		what, todo := findingText(l, "planfinding.", f.Code, int64(len(f.Mailboxes)), f.Message, f.Action, f.Wave)
		wave := ""
		if f.Wave > 0 {
			wave = strconv.Itoa(f.Wave)
		}
		mbs := strings.Join(f.Mailboxes, ", ")
		ft.Rows = append(ft.Rows, []cell{{Text: l.enum("severity.", string(f.Severity)), Class: severityClass(string(f.Severity))}, numCell(wave), {Text: what}, {Text: mbs}, {Text: todo}})
		fcsv.Rows = append(fcsv.Rows, []string{l.enum("severity.", string(f.Severity)), f.Code, wave, c.text(what), c.text(mbs), c.text(todo)})
	}
	fs.Tables = append(fs.Tables, ft)
	d.Sections = append(d.Sections, fs)
	d.CSV = append(d.CSV, fcsv)

	// Delegation groups.
	gs := section{ID: "groups", Title: l.T("plan.groups.title"), Intro: l.T("plan.groups.intro")}
	waveOf := map[string]int{}
	var nodes []GraphNode
	for _, w := range p.Waves {
		for _, m := range w.Mailboxes {
			waveOf[strings.ToLower(m.Source)] = w.Number
			nodes = append(nodes, GraphNode{ID: strings.ToLower(m.Source), Label: localPart(m.Source), Color: waveColor(w.Number)})
		}
	}
	var edges []GraphEdge
	ecsv := csvTable{Name: "links", Head: []string{l.T("col.owner"), l.T("col.grantee"), l.T("col.link"), l.T("col.role"), l.T("col.owner_wave"), l.T("col.grantee_wave")}}
	for _, e := range p.Edges {
		edges = append(edges, GraphEdge{From: strings.ToLower(e.Owner), To: strings.ToLower(e.Grantee)})
		ow, gw := waveOf[strings.ToLower(e.Owner)], waveOf[strings.ToLower(e.Grantee)]
		ecsv.Rows = append(ecsv.Rows, []string{c.text(e.Owner), c.text(e.Grantee), l.enum("edge.", string(e.Kind)), c.text(e.Role), waveNum(ow), waveNum(gw)})
	}
	gs.Charts = append(gs.Charts, DelegationGraph("chart-groups", l.T("plan.chart.groups"), l.T("plan.groups.none"), nodes, edges, graphCaption(l)))
	gt := table{Head: []column{{l.T("col.group"), true}, {l.T("col.wave"), true}, {l.T("col.mailboxes"), false}, {l.T("col.bytes"), true}, {l.T("col.estimate"), true}}, Empty: l.T("plan.groups.none")}
	gcsv := csvTable{Name: "groups", Head: []string{l.T("col.group"), l.T("col.wave"), l.T("col.mailboxes"), l.T("col.items"), l.T("col.bytes_raw"), l.T("col.estimate_seconds")}}
	for _, g := range p.Groups {
		if len(gt.Rows) < maxHTMLRows {
			gt.Rows = append(gt.Rows, []cell{numCell(strconv.Itoa(g.ID + 1)), numCell(strconv.Itoa(g.Wave)), {Text: strings.Join(g.Mailboxes, ", ")},
				numCell(bytesOrDash(l, g.Bytes)), numCell(l.Duration(secs(g.EstimateSeconds)))})
		}
		gcsv.Rows = append(gcsv.Rows, []string{strconv.Itoa(g.ID + 1), strconv.Itoa(g.Wave), c.text(strings.Join(g.Mailboxes, " ")), c.int(g.Items), c.int(g.Bytes), c.num(g.EstimateSeconds, 0)})
	}
	gs.Tables = append(gs.Tables, gt)
	d.Sections = append(d.Sections, gs)
	d.CSV = append(d.CSV, gcsv, ecsv)

	// Mailboxes, wave by wave.
	ms := section{ID: "mailboxes", Title: l.T("plan.mailboxes.title"), Intro: l.T("plan.mailboxes.intro")}
	mt := table{Head: []column{{l.T("col.wave"), true}, {l.T("col.mailbox"), false}, {l.T("col.target"), false}, {l.T("col.type"), false}, {l.T("col.items"), true},
		{l.T("col.bytes"), true}, {l.T("col.estimate"), true}, {l.T("col.group"), true}, {l.T("col.line"), true}}, Empty: l.T("table.empty")}
	mcsv := csvTable{Name: "mailboxes", Head: []string{l.T("col.wave"), l.T("col.mailbox"), l.T("col.target"), l.T("col.type"), l.T("col.items"), l.T("col.bytes_raw"),
		l.T("col.estimate_seconds"), l.T("col.group"), l.T("col.line"), l.T("col.pinned_wave"), l.T("col.flags")}}
	n := 0
	for _, w := range p.Waves {
		for _, m := range w.Mailboxes {
			group := ""
			if m.Group >= 0 {
				group = strconv.Itoa(m.Group + 1)
			}
			if n < maxHTMLRows {
				mt.Rows = append(mt.Rows, []cell{numCell(strconv.Itoa(w.Number)), {Text: m.Source}, {Text: m.Target}, {Text: l.enum("mbtype.", typeOrUnknown(m.Type))},
					numCell(l.Int(m.Items)), numCell(bytesOrDash(l, m.Bytes)), numCell(l.Duration(secs(m.EstimateSeconds))), numCell(group), numCell(strconv.Itoa(m.Line))})
			}
			n++
			pinned := ""
			if m.PinnedWave > 0 {
				pinned = strconv.Itoa(m.PinnedWave)
			}
			mcsv.Rows = append(mcsv.Rows, []string{strconv.Itoa(w.Number), c.text(m.Source), c.text(m.Target), l.enum("mbtype.", typeOrUnknown(m.Type)), c.int(m.Items), c.int(m.Bytes),
				c.num(m.EstimateSeconds, 0), group, strconv.Itoa(m.Line), pinned, c.text(m.Flags)})
		}
	}
	if k := n - maxHTMLRows; k > 0 {
		mt.More = l.Tn("table.more", int64(k))
	}
	ms.Tables = append(ms.Tables, mt)
	d.Sections = append(d.Sections, ms)
	d.CSV = append(d.CSV, mcsv)
	return d
}

func waveNum(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// waveColor is the colour of wave n (1-based; any int).
func waveColor(n int) string {
	k := len(seriesPalette)
	return seriesPalette[((n-1)%k+k)%k]
}
