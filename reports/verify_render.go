package reports

import (
	"sort"

	"github.com/bascule-migrate/bascule/planner/verify"
)

// WriteVerify writes the verification report into dir: verify.html, verify-*.csv and
// verify.json (the verify.Report itself, the schema of bascule verify --output json).
func WriteVerify(dir string, rep *verify.Report, o Options) (*Result, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	l, err := NewLocalizer(o.Lang, o.Location)
	if err != nil {
		return nil, err
	}
	return write(dir, l, verifyDocument(l, rep, o), o)
}

// diffKinds is the order differences are shown in.
var diffKinds = []verify.DiffKind{verify.MissingOnTarget, verify.NotMigrated, verify.BytesDiffer, verify.FlagsDiffer, verify.InternalDateDiffers,
	verify.FolderMissing, verify.CountDiffers, verify.OccurrenceMissing, verify.OccurrenceExtra, verify.OccurrenceChanged, verify.FieldChanged, verify.ExtraOnTarget,
	verify.IdentifierMissing, verify.IdentifierExtra, verify.RightMissing, verify.RightExtra, verify.SieveMissing, verify.SieveDiffers, verify.SieveExtra}

func verifyDocument(l *Localizer, rep *verify.Report, o Options) *document {
	c := csvFmt{sep: o.CSVSeparator, loc: o.Location}
	t := rep.Totals
	d := &document{Name: "verify", Lang: l.lang, Title: l.T("verify.title"), Generated: l.DateTime(o.Generated), Tool: o.Tool, JSON: rep}
	d.Subtitle = l.T("verify.subtitle", l.DateTime(rep.Started), l.Duration(rep.Finished.Sub(rep.Started)))
	ndiff := int64(len(rep.Differences))
	switch rep.Verdict {
	case verify.VerdictOK:
		d.Verdict = &verdict{l.T("verify.verdict.ok"), "ok"}
	case verify.VerdictDifferences:
		d.Verdict = &verdict{l.Tn("verify.verdict.differences", ndiff), "bad"}
	case verify.VerdictIncomplete:
		d.Verdict = &verdict{l.Tn("verify.verdict.incomplete", int64(len(rep.Errors))), "warn"}
	case verify.VerdictInterrupted:
		d.Verdict = &verdict{l.T("verify.verdict.interrupted"), "warn"}
	default:
		d.Verdict = &verdict{rep.Verdict, "warn"}
	}
	tone := func(n int64, t string) string {
		if n > 0 {
			return t
		}
		return ""
	}
	d.Cards = []card{
		{Label: l.T("verify.card.mailboxes"), Value: l.Int(int64(t.Mailboxes))},
		{Label: l.T("verify.card.folders"), Value: l.Int(int64(t.Folders))},
		{Label: l.T("verify.card.source"), Value: l.Int(t.Source.Items)},
		{Label: l.T("verify.card.target"), Value: l.Int(t.Target.Items)},
		{Label: l.T("verify.card.checked"), Value: l.Int(t.Checked)},
		{Label: l.T("verify.card.occurrences"), Value: l.Int(t.Occurrences)},
		{Label: l.T("verify.card.differences"), Value: l.Int(ndiff), Tone: tone(ndiff, "bad")},
		{Label: l.T("verify.card.errors"), Value: l.Int(int64(len(rep.Errors))), Tone: tone(int64(len(rep.Errors)), "warn")},
	}

	// What was compared.
	opt := rep.Options
	var kinds []string
	for _, k := range opt.Kinds {
		kinds = append(kinds, l.enum("kind.", k))
	}
	scope := l.T("verify.scope.all")
	switch {
	case opt.All:
	case opt.SamplePercent > 0:
		scope = l.T("verify.scope.percent", l.Percent(opt.SamplePercent/100), l.Int(int64(opt.Seed)))
	case opt.Sample > 0:
		scope = l.T("verify.scope.sample", l.Int(int64(opt.Sample)), l.Int(int64(opt.Seed)))
	}
	cs := section{ID: "compared", Title: l.T("verify.compared.title"), Intro: l.T("verify.compared.intro", joinList(l, kinds), scope)}
	if !opt.WindowStart.IsZero() {
		cs.Notes = append(cs.Notes, l.T("verify.compared.window", l.Date(opt.WindowStart), l.Date(opt.WindowEnd)))
	}
	// Items by kind, source and target side by side.
	type pair struct{ src, tgt int64 }
	byKind := map[string]*pair{}
	for _, m := range rep.Mailboxes {
		for _, f := range m.Folders {
			p := byKind[f.Kind]
			if p == nil {
				p = &pair{}
				byKind[f.Kind] = p
			}
			p.src += f.Source.Items
			p.tgt += f.Target.Items
		}
	}
	var bars []Bar
	for _, k := range kindOrder {
		if p := byKind[k]; p != nil {
			bars = append(bars, Bar{Label: l.T("verify.bar.source", l.enum("kind.", k)), Value: float64(p.src), Display: l.Int(p.src), Color: colBlue},
				Bar{Label: l.T("verify.bar.target", l.enum("kind.", k)), Value: float64(p.tgt), Display: l.Int(p.tgt), Color: colGreen})
		}
	}
	cs.Charts = append(cs.Charts, BarChart("chart-kinds", l.T("verify.chart.kinds"), l.T("chart.nodata"), bars))
	d.Sections = append(d.Sections, cs)

	// Differences.
	ds := section{ID: "differences", Title: l.T("verify.differences.title")}
	var dbars []Bar
	counts := map[verify.DiffKind]int{}
	for _, x := range rep.Differences {
		counts[x.Kind]++
	}
	known := map[verify.DiffKind]bool{}
	order := append([]verify.DiffKind{}, diffKinds...)
	for _, k := range diffKinds {
		known[k] = true
	}
	var extra []verify.DiffKind
	for k := range counts {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	order = append(order, extra...)
	for _, k := range order {
		if n := counts[k]; n > 0 {
			dbars = append(dbars, Bar{Label: l.enum("diff.", string(k)), Value: float64(n), Display: l.Int(int64(n)), Color: colRed})
		}
	}
	ds.Charts = append(ds.Charts, BarChart("chart-differences", l.T("verify.chart.differences"), l.T("verify.differences.none"), dbars))
	dt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.difference"), false}, {l.T("col.item"), false},
		{l.T("col.field"), false}, {l.T("col.expected"), false}, {l.T("col.actual"), false}}, Empty: l.T("verify.differences.none")}
	dcsv := csvTable{Name: "differences", Head: []string{l.T("col.mailbox"), l.T("col.target"), l.T("col.kind"), l.T("col.folder"), l.T("col.difference"), l.T("col.code"),
		l.T("col.item_id"), l.T("col.subject"), l.T("col.target_ref"), l.T("col.occurrence"), l.T("col.field"), l.T("col.expected"), l.T("col.actual"), l.T("col.detail")}}
	for i, x := range rep.Differences {
		item := x.Subject
		if item == "" {
			item = x.ItemID
		}
		if x.Occurrence != "" {
			item += " (" + x.Occurrence + ")"
		}
		if i < maxHTMLRows {
			dt.Rows = append(dt.Rows, []cell{{Text: x.Mailbox}, {Text: x.Folder}, {Text: l.enum("diff.", string(x.Kind)), Class: "bad"}, {Text: item},
				{Text: x.Field, Class: "mono"}, {Text: x.Expected, Class: "mono"}, {Text: x.Actual, Class: "mono"}})
		}
		dcsv.Rows = append(dcsv.Rows, []string{c.text(x.Mailbox), c.text(x.Target), l.enum("kind.", x.ItemKind), c.text(x.Folder), l.enum("diff.", string(x.Kind)), string(x.Kind),
			c.text(x.ItemID), c.text(x.Subject), c.text(x.TargetRef), x.Occurrence, c.text(x.Field), c.text(x.Expected), c.text(x.Actual), c.text(x.Detail)})
	}
	if n := len(rep.Differences) - maxHTMLRows; n > 0 {
		dt.More = l.Tn("table.more", int64(n))
	}
	ds.Tables = append(ds.Tables, dt)
	d.Sections = append(d.Sections, ds)
	d.CSV = append(d.CSV, dcsv)

	// Mailboxes.
	ms := section{ID: "mailboxes", Title: l.T("verify.mailboxes.title")}
	mt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.target"), false}, {l.T("col.folders"), true}, {l.T("col.source_items"), true},
		{l.T("col.target_items"), true}, {l.T("col.checked"), true}, {l.T("col.differences"), true}, {l.T("col.error"), false}}, Empty: l.T("table.empty")}
	mcsv := csvTable{Name: "mailboxes", Head: []string{l.T("col.mailbox"), l.T("col.target"), l.T("col.folders"), l.T("col.source_items"), l.T("col.source_bytes"),
		l.T("col.store_items"), l.T("col.target_items"), l.T("col.target_bytes"), l.T("col.checked"), l.T("col.differences"), l.T("col.error")}}
	fcsv := csvTable{Name: "folders", Head: []string{l.T("col.mailbox"), l.T("col.kind"), l.T("col.folder"), l.T("col.target_name"), l.T("col.source_items"), l.T("col.source_bytes"),
		l.T("col.store_items"), l.T("col.target_items"), l.T("col.target_bytes"), l.T("col.checked"), l.T("col.occurrences"), l.T("col.differences"), l.T("col.error")}}
	ft := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.kind"), false}, {l.T("col.source_items"), true}, {l.T("col.store_items"), true},
		{l.T("col.target_items"), true}, {l.T("col.differences"), true}}, Empty: l.T("verify.folders.none")}
	for i, m := range rep.Mailboxes {
		var src, tgt, chk, srcB, tgtB, sto int64
		for _, f := range m.Folders {
			src += f.Source.Items
			srcB += f.Source.Bytes
			tgt += f.Target.Items
			tgtB += f.Target.Bytes
			sto += f.Store.Items
			chk += f.Checked
			fcsv.Rows = append(fcsv.Rows, []string{c.text(m.Address), l.enum("kind.", f.Kind), c.text(f.Path), c.text(f.TargetName), c.int(f.Source.Items), c.int(f.Source.Bytes),
				c.int(f.Store.Items), c.int(f.Target.Items), c.int(f.Target.Bytes), c.int(f.Checked), c.int(f.Occurrences), c.int(int64(f.Differences)), c.text(f.Error)})
			if (f.Differences > 0 || f.Error != "" || f.Source.Items != f.Target.Items) && len(ft.Rows) < maxHTMLRows {
				ft.Rows = append(ft.Rows, []cell{{Text: m.Address}, {Text: f.Path}, {Text: l.enum("kind.", f.Kind)}, numCell(l.Int(f.Source.Items)), numCell(l.Int(f.Store.Items)),
					numCell(l.Int(f.Target.Items)), failCell(l, int64(f.Differences))})
			}
		}
		if i < maxHTMLRows {
			ec := cell{Text: m.Error}
			if m.Error != "" {
				ec.Class = "bad"
			}
			mt.Rows = append(mt.Rows, []cell{{Text: m.Address}, {Text: m.Target}, numCell(l.Int(int64(len(m.Folders)))), numCell(l.Int(src)), numCell(l.Int(tgt)),
				numCell(l.Int(chk)), failCell(l, int64(m.Differences)), ec})
		}
		mcsv.Rows = append(mcsv.Rows, []string{c.text(m.Address), c.text(m.Target), c.int(int64(len(m.Folders))), c.int(src), c.int(srcB), c.int(sto), c.int(tgt), c.int(tgtB),
			c.int(chk), c.int(int64(m.Differences)), c.text(m.Error)})
	}
	if n := len(rep.Mailboxes) - maxHTMLRows; n > 0 {
		mt.More = l.Tn("table.more", int64(n))
	}
	ms.Tables = append(ms.Tables, mt)
	d.Sections = append(d.Sections, ms, section{ID: "folders", Title: l.T("verify.folders.title"), Intro: l.T("verify.folders.intro"), Tables: []table{ft}})
	d.CSV = append(d.CSV, mcsv, fcsv)

	// Errors.
	es := section{ID: "errors", Title: l.T("verify.errors.title"), Intro: l.T("verify.errors.intro")}
	et := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.error"), false}}, Empty: l.T("verify.errors.none")}
	ecsv := csvTable{Name: "errors", Head: []string{l.T("col.mailbox"), l.T("col.folder"), l.T("col.error")}}
	for _, p := range rep.Errors {
		et.Rows = append(et.Rows, []cell{{Text: p.Mailbox}, {Text: p.Folder}, {Text: p.Message, Class: "bad"}})
		ecsv.Rows = append(ecsv.Rows, []string{c.text(p.Mailbox), c.text(p.Folder), c.text(p.Message)})
	}
	es.Tables = append(es.Tables, et)
	d.Sections = append(d.Sections, es)
	d.CSV = append(d.CSV, ecsv)
	return d
}

// joinList joins words the way the language lists them: "a, b and c" / "a, b et c".
func joinList(l *Localizer, words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	out := words[0]
	for _, w := range words[1 : len(words)-1] {
		out += ", " + w
	}
	return l.T("list.and", out, words[len(words)-1])
}
