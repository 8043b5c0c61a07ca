package reports

import (
	"sort"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/planner/audit"
)

// WriteAudit writes the audit report into dir: audit.html, audit-*.csv and audit.json (the
// audit.Report itself, the schema of bascule audit --output json).
func WriteAudit(dir string, rep *audit.Report, o Options) (*Result, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	l, err := NewLocalizer(o.Lang, o.Location)
	if err != nil {
		return nil, err
	}
	return write(dir, l, auditDocument(l, rep, o), o)
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func severityClass(s string) string {
	switch s {
	case "blocking":
		return "bad"
	case "warning":
		return "warn"
	}
	return ""
}

// findingText is a finding in the report's language: what was found and what to do. Known
// codes are translated (with the finding's count and what the report knows); an unknown code
// keeps the audit's English text.
func findingText(l *Localizer, prefix, code string, count int64, message, action string, args ...any) (string, string) {
	what, todo := message, action
	if l.Has(prefix + code + "#one") {
		what = l.Tn(prefix+code, count, args...)
	} else if l.Has(prefix + code) {
		what = l.T(prefix+code, append([]any{count}, args...)...)
	}
	if l.Has(prefix + code + ".action") {
		todo = l.T(prefix + code + ".action")
	}
	return what, todo
}

func joinPath(p []string) string { return strings.Join(p, " / ") }

func auditDocument(l *Localizer, rep *audit.Report, o Options) *document {
	c := csvFmt{sep: o.CSVSeparator, loc: o.Location}
	t := rep.Totals
	d := &document{Name: "audit", Lang: l.lang, Title: l.T("audit.title"), Generated: l.DateTime(o.Generated), Tool: o.Tool, JSON: rep}
	src := l.enum("source.", rep.Source)
	if rep.Endpoint != "" {
		src += " — " + rep.Endpoint
	}
	d.Subtitle = l.T("audit.subtitle", src, l.DateTime(rep.Finished))
	blocking, warnings := int64(t.Findings[audit.Blocking]), int64(t.Findings[audit.Warning])
	switch {
	case blocking > 0:
		d.Verdict = &verdict{l.Tn("audit.verdict.blocking", blocking), "bad"}
	case warnings > 0:
		d.Verdict = &verdict{l.Tn("audit.verdict.warning", warnings), "warn"}
	default:
		d.Verdict = &verdict{l.T("audit.verdict.ok"), "ok"}
	}
	tone := func(n int64, t string) string {
		if n > 0 {
			return t
		}
		return ""
	}
	d.Cards = []card{
		{Label: l.T("audit.card.mailboxes"), Value: l.Int(int64(t.Mailboxes))},
		{Label: l.T("audit.card.items"), Value: l.Int(t.Items)},
		{Label: l.T("audit.card.bytes"), Value: l.Bytes(t.Bytes)},
		{Label: l.T("audit.card.estimate"), Value: l.Duration(secs(rep.Estimate.Seconds))},
		{Label: l.T("audit.card.blocking"), Value: l.Int(blocking), Tone: tone(blocking, "bad")},
		{Label: l.T("audit.card.warnings"), Value: l.Int(warnings), Tone: tone(warnings, "warn")},
		{Label: l.T("audit.card.over_limit"), Value: l.Int(t.OverLimit), Tone: tone(t.OverLimit, "bad")},
		{Label: l.T("audit.card.rules_manual"), Value: l.Int(int64(t.RulesManual)), Tone: tone(int64(t.RulesManual), "warn")},
	}
	byAddr := map[string]*audit.Mailbox{}
	for i := range rep.Mailboxes {
		byAddr[strings.ToLower(rep.Mailboxes[i].Address)] = &rep.Mailboxes[i]
	}

	// Findings.
	fs := section{ID: "findings", Title: l.T("audit.findings.title"), Intro: l.T("audit.findings.intro")}
	ft := table{Head: []column{{l.T("col.severity"), false}, {l.T("col.mailbox"), false}, {l.T("col.finding"), false}, {l.T("col.subject"), false}, {l.T("col.action"), false}},
		Empty: l.T("audit.findings.none")}
	fcsv := csvTable{Name: "findings", Head: []string{l.T("col.severity"), l.T("col.code"), l.T("col.mailbox"), l.T("col.finding"), l.T("col.subject"), l.T("col.count"), l.T("col.action")}}
	for i, f := range rep.Findings {
		what, todo := auditFinding(l, rep, byAddr, f)
		mb := f.Mailbox
		if mb == "" {
			mb = l.T("audit.tenant_wide")
		}
		if i < maxHTMLRows {
			ft.Rows = append(ft.Rows, []cell{{Text: l.enum("severity.", string(f.Severity)), Class: severityClass(string(f.Severity))}, {Text: mb}, {Text: what}, {Text: f.Subject}, {Text: todo}})
		}
		fcsv.Rows = append(fcsv.Rows, []string{l.enum("severity.", string(f.Severity)), f.Code, c.text(f.Mailbox), c.text(what), c.text(f.Subject), c.int(f.Count), c.text(todo)})
	}
	if n := len(rep.Findings) - maxHTMLRows; n > 0 {
		ft.More = l.Tn("table.more", int64(n))
	}
	fs.Tables = append(fs.Tables, ft)
	d.Sections = append(d.Sections, fs)
	d.CSV = append(d.CSV, fcsv)

	// Volumes: items by kind, mailbox sizes, mailbox types.
	vs := section{ID: "volumes", Title: l.T("audit.volumes.title")}
	var kbars []Bar
	kt := table{Head: []column{{l.T("col.kind"), false}, {l.T("col.items"), true}, {l.T("col.bytes"), true}, {l.T("col.folders"), true}}}
	kinds := append([]string{}, kindOrder...)
	kinds = append(kinds, audit.KindOther)
	for i, k := range kinds {
		ks, ok := t.Kinds[k]
		if !ok {
			continue
		}
		kbars = append(kbars, Bar{Label: l.enum("kind.", k), Value: float64(ks.Items), Display: l.Int(ks.Items), Color: palette[i%len(palette)]})
		kt.Rows = append(kt.Rows, []cell{{Text: l.enum("kind.", k)}, numCell(l.Int(ks.Items)), numCell(bytesOrDash(l, ks.Bytes)), numCell(l.Int(int64(ks.Folders)))})
	}
	vs.Charts = append(vs.Charts, BarChart("chart-kinds", l.T("audit.chart.kinds"), l.T("chart.nodata"), kbars))
	var sbins []Bar
	for _, b := range t.MailboxSizes {
		sbins = append(sbins, Bar{Label: sizeLabel(l, SizeBucket{Min: b.Min, Max: b.Max}), Value: float64(b.Count), Display: l.Int(int64(b.Count))})
	}
	vs.Charts = append(vs.Charts, Histogram("chart-sizes", l.T("audit.chart.sizes"), l.T("chart.nodata"), sbins, l.Num))
	var types []string
	for k := range t.ByType {
		types = append(types, k)
	}
	sort.Slice(types, func(i, j int) bool {
		return t.ByType[types[i]] > t.ByType[types[j]] || (t.ByType[types[i]] == t.ByType[types[j]] && types[i] < types[j])
	})
	var tbars []Bar
	for i, k := range types {
		tbars = append(tbars, Bar{Label: l.enum("mbtype.", typeOrUnknown(k)), Value: float64(t.ByType[k]), Display: l.Int(int64(t.ByType[k])), Color: palette[(i+4)%len(palette)]})
	}
	vs.Charts = append(vs.Charts, BarChart("chart-types", l.T("audit.chart.types"), l.T("chart.nodata"), tbars))
	vs.Tables = append(vs.Tables, kt)
	vs.Notes = append(vs.Notes, l.T("audit.volumes.groupware", l.Int(t.Series), l.Int(t.Exceptions)),
		l.T("audit.volumes.rules", l.Int(int64(t.Rules)), l.Int(int64(t.RulesToSieve)), l.Int(int64(t.RulesManual))),
		l.T("audit.volumes.other", l.Int(int64(t.AutoReplyOn)), l.Int(int64(t.Archives)), l.Int(int64(t.DelegationsOut))))
	d.Sections = append(d.Sections, vs)

	// Delegations.
	ds := section{ID: "delegations", Title: l.T("audit.delegations.title"), Intro: l.T("audit.delegations.intro")}
	var nodes []GraphNode
	for _, m := range rep.Mailboxes {
		nodes = append(nodes, GraphNode{ID: strings.ToLower(m.Address), Label: localPart(m.Address)})
	}
	var edges []GraphEdge
	dt := table{Head: []column{{l.T("col.owner"), false}, {l.T("col.grantee"), false}, {l.T("col.scope"), false}, {l.T("col.folder"), false}, {l.T("col.role"), false}}, Empty: l.T("table.empty")}
	dcsv := csvTable{Name: "delegations", Head: []string{l.T("col.owner"), l.T("col.grantee"), l.T("col.scope"), l.T("col.folder"), l.T("col.role"), l.T("col.origin")}}
	nd := 0
	for _, m := range rep.Mailboxes {
		for _, g := range m.DelegationsOut {
			edges = append(edges, GraphEdge{From: strings.ToLower(g.Owner), To: strings.ToLower(g.Grantee)})
			if nd < maxHTMLRows {
				dt.Rows = append(dt.Rows, []cell{{Text: g.Owner}, {Text: g.Grantee}, {Text: l.enum("scope.", g.Scope)}, {Text: g.Folder}, {Text: g.Role}})
			}
			nd++
			dcsv.Rows = append(dcsv.Rows, []string{c.text(g.Owner), c.text(g.Grantee), l.enum("scope.", g.Scope), c.text(g.Folder), c.text(g.Role), c.text(g.Origin)})
		}
	}
	if n := nd - maxHTMLRows; n > 0 {
		dt.More = l.Tn("table.more", int64(n))
	}
	ds.Charts = append(ds.Charts, DelegationGraph("chart-delegations", l.T("audit.chart.delegations"), l.T("audit.delegations.none"), nodes, edges, graphCaption(l)))
	ds.Tables = append(ds.Tables, dt)
	d.Sections = append(d.Sections, ds)
	d.CSV = append(d.CSV, dcsv)

	// Mailboxes.
	ms := section{ID: "mailboxes", Title: l.T("audit.mailboxes.title")}
	mt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.type"), false}, {l.T("col.items"), true}, {l.T("col.bytes"), true}, {l.T("col.folders"), true},
		{l.T("col.over_limit"), true}, {l.T("col.rules"), true}, {l.T("col.delegations"), true}, {l.T("col.estimate"), true}}, Empty: l.T("table.empty")}
	mcsv := csvTable{Name: "mailboxes", Head: []string{l.T("col.mailbox"), l.T("col.display_name"), l.T("col.type"), l.T("col.items"), l.T("col.bytes_raw"),
		l.T("kind.mail"), l.T("kind.calendar"), l.T("kind.contacts"), l.T("kind.tasks"), l.T("col.folders"), l.T("col.max_depth"), l.T("col.over_limit"),
		l.T("col.series"), l.T("col.exceptions"), l.T("col.rules"), l.T("col.rules_manual"), l.T("col.auto_reply"), l.T("col.archive"),
		l.T("col.delegations_out"), l.T("col.delegations_in"), l.T("col.estimate_seconds"), l.T("col.bound"), l.T("col.requests"), l.T("col.error")}}
	for i, m := range rep.Mailboxes {
		manual := 0
		for _, r := range m.Rules {
			if !r.Sieve {
				manual++
			}
		}
		if i < maxHTMLRows {
			name := m.Address
			mc := cell{Text: name}
			if m.Error != "" {
				mc.Class = "bad"
			}
			over := numCell(l.Int(m.OverLimit))
			if m.OverLimit > 0 {
				over.Class = "num bad"
			}
			rules := l.Int(int64(len(m.Rules)))
			if manual > 0 {
				rules = l.T("audit.rules_cell", l.Int(int64(len(m.Rules))), l.Int(int64(manual)))
			}
			mt.Rows = append(mt.Rows, []cell{mc, {Text: l.enum("mbtype.", typeOrUnknown(m.Type))}, numCell(l.Int(m.Items)), numCell(bytesOrDash(l, m.Bytes)),
				numCell(l.Int(int64(len(m.Folders)))), over, numCell(rules), numCell(l.Int(int64(len(m.DelegationsOut) + len(m.DelegationsIn)))),
				numCell(l.Duration(secs(m.Estimate.Seconds)))})
		}
		mcsv.Rows = append(mcsv.Rows, []string{c.text(m.Address), c.text(m.DisplayName), l.enum("mbtype.", typeOrUnknown(m.Type)), c.int(m.Items), c.int(m.Bytes),
			c.int(m.Kinds[audit.KindMail].Items), c.int(m.Kinds[audit.KindCalendar].Items), c.int(m.Kinds[audit.KindContacts].Items), c.int(m.Kinds[audit.KindTasks].Items),
			c.int(int64(len(m.Folders))), c.int(int64(m.MaxDepth)), c.int(m.OverLimit), c.int(m.Series), c.int(m.Exceptions),
			c.int(int64(len(m.Rules))), c.int(int64(manual)), l.enum("autoreply.", m.AutoReply), yesNo(l, m.Archive),
			c.int(int64(len(m.DelegationsOut))), c.int(int64(len(m.DelegationsIn))), c.num(m.Estimate.Seconds, 0), l.enum("bound.", m.Estimate.Bound), c.int(m.Requests), c.text(m.Error)})
	}
	if n := len(rep.Mailboxes) - maxHTMLRows; n > 0 {
		mt.More = l.Tn("table.more", int64(n))
	}
	ms.Tables = append(ms.Tables, mt)
	d.Sections = append(d.Sections, ms)
	d.CSV = append(d.CSV, mcsv)

	// Estimate.
	es := section{ID: "estimate", Title: l.T("audit.estimate.title")}
	e, th := rep.Estimate, rep.Options.Model
	es.Intro = l.T("audit.estimate.intro", l.Duration(secs(e.Seconds)), l.Int(int64(rep.Options.MailboxParallel)), l.enum("bound.", e.Bound))
	if e.LongestMailbox != "" {
		es.Notes = append(es.Notes, l.T("audit.estimate.longest", e.LongestMailbox, l.Duration(secs(e.LongestSeconds))))
	}
	es.Notes = append(es.Notes, l.T("audit.estimate.model", l.Num(th.MessagesPerSecond, 1), l.Bytes(int64(th.BytesPerSecond)), l.Num(th.GroupwarePerSecond, 1),
		l.Num(th.MailboxRequestsPerSecond, 2), l.Int(int64(th.MailboxConcurrency)), th.Source))
	var longest []audit.Mailbox
	longest = append(longest, rep.Mailboxes...)
	sort.SliceStable(longest, func(i, j int) bool { return longest[i].Estimate.Seconds > longest[j].Estimate.Seconds })
	if len(longest) > 15 {
		longest = longest[:15]
	}
	var ebars []Bar
	for _, m := range longest {
		if m.Estimate.Seconds > 0 {
			ebars = append(ebars, Bar{Label: m.Address, Value: m.Estimate.Seconds, Display: l.Duration(secs(m.Estimate.Seconds)), Color: colViolet})
		}
	}
	es.Charts = append(es.Charts, BarChart("chart-estimates", l.T("audit.chart.estimates"), l.T("chart.nodata"), ebars))
	d.Sections = append(d.Sections, es)

	// Folders needing care and every folder (CSV).
	cs := section{ID: "folders", Title: l.T("audit.folders.title"), Intro: l.T("audit.folders.intro")}
	ct := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.items"), true}, {l.T("col.why"), false}}, Empty: l.T("audit.folders.none")}
	fo := csvTable{Name: "folders", Head: []string{l.T("col.mailbox"), l.T("col.folder"), l.T("col.kind"), l.T("col.well_known"), l.T("col.items"), l.T("col.bytes_raw"), l.T("col.depth"), l.T("col.why")}}
	ncare := 0
	for _, m := range rep.Mailboxes {
		for _, f := range m.Folders {
			var why []string
			for _, r := range f.Care {
				why = append(why, l.enum("care.", r))
			}
			if len(why) > 0 {
				if ncare < maxHTMLRows {
					ct.Rows = append(ct.Rows, []cell{{Text: m.Address}, {Text: joinPath(f.Path)}, numCell(l.Int(f.Items)), {Text: strings.Join(why, " ; "), Class: "warn"}})
				}
				ncare++
			}
			fo.Rows = append(fo.Rows, []string{c.text(m.Address), c.text(joinPath(f.Path)), l.enum("kind.", f.Kind), f.WellKnown, c.int(f.Items), c.int(f.Bytes), c.int(int64(f.Depth)), c.text(strings.Join(why, " ; "))})
		}
	}
	if n := ncare - maxHTMLRows; n > 0 {
		ct.More = l.Tn("table.more", int64(n))
	}
	cs.Tables = append(cs.Tables, ct)
	d.Sections = append(d.Sections, cs)
	d.CSV = append(d.CSV, fo)

	// Largest items, and the rules Sieve cannot carry.
	type big struct {
		mb string
		it audit.Item
	}
	var bigs []big
	rt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.rule"), false}, {l.T("col.enabled"), false}, {l.T("col.reason"), false}}, Empty: l.T("audit.rules.none")}
	rcsv := csvTable{Name: "rules", Head: []string{l.T("col.mailbox"), l.T("col.rule"), l.T("col.enabled"), l.T("col.sieve"), l.T("col.reason")}}
	for _, m := range rep.Mailboxes {
		for _, it := range m.Largest {
			bigs = append(bigs, big{m.Address, it})
		}
		for _, r := range m.Rules {
			if !r.Sieve && len(rt.Rows) < maxHTMLRows {
				rt.Rows = append(rt.Rows, []cell{{Text: m.Address}, {Text: r.Name}, {Text: yesNo(l, r.Enabled)}, {Text: r.Reason}})
			}
			rcsv.Rows = append(rcsv.Rows, []string{c.text(m.Address), c.text(r.Name), yesNo(l, r.Enabled), yesNo(l, r.Sieve), c.text(r.Reason)})
		}
	}
	sort.SliceStable(bigs, func(i, j int) bool { return bigs[i].it.Bytes > bigs[j].it.Bytes })
	bs := section{ID: "largest", Title: l.T("audit.largest.title")}
	if lim := rep.Options.TargetMaxMessageSize; lim > 0 {
		bs.Intro = l.T("audit.largest.intro", l.Bytes(lim))
	}
	bt := table{Head: []column{{l.T("col.mailbox"), false}, {l.T("col.folder"), false}, {l.T("col.subject"), false}, {l.T("col.bytes"), true}, {l.T("col.received"), false}}, Empty: l.T("table.empty")}
	bcsv := csvTable{Name: "largest", Head: []string{l.T("col.mailbox"), l.T("col.folder"), l.T("col.subject"), l.T("col.bytes_raw"), l.T("col.received")}}
	for i, b := range bigs {
		if i < 50 {
			sz := numCell(l.Bytes(b.it.Bytes))
			if lim := rep.Options.TargetMaxMessageSize; lim > 0 && b.it.Bytes > lim {
				sz.Class = "num bad"
			}
			bt.Rows = append(bt.Rows, []cell{{Text: b.mb}, {Text: joinPath(b.it.Folder)}, {Text: b.it.Subject}, sz, {Text: l.Date(b.it.Received)}})
		}
		bcsv.Rows = append(bcsv.Rows, []string{c.text(b.mb), c.text(joinPath(b.it.Folder)), c.text(b.it.Subject), c.int(b.it.Bytes), c.time(b.it.Received)})
	}
	bs.Tables = append(bs.Tables, bt)
	d.Sections = append(d.Sections, bs, section{ID: "rules", Title: l.T("audit.rules.title"), Intro: l.T("audit.rules.intro"), Tables: []table{rt}})
	d.CSV = append(d.CSV, bcsv, rcsv)
	return d
}

func auditFinding(l *Localizer, rep *audit.Report, byAddr map[string]*audit.Mailbox, f audit.Finding) (string, string) {
	detail := ""
	m := byAddr[strings.ToLower(f.Mailbox)]
	switch f.Code {
	case audit.CodeMailboxError:
		if m != nil {
			detail = m.Error
		}
	case audit.CodeRuleNotSieve:
		if m != nil {
			for _, r := range m.Rules {
				if r.Name == f.Subject && r.Reason != "" {
					detail = r.Reason
					break
				}
			}
		}
	case audit.CodeTenantEstimate:
		detail = l.Duration(secs(rep.Estimate.Seconds))
	case audit.CodeBudgetBound:
		if m != nil {
			detail = l.Duration(secs(m.Estimate.Seconds))
		}
	case audit.CodeAutoReply:
		if m != nil {
			detail = l.enum("autoreply.", m.AutoReply)
		}
	case audit.CodeResourceMailbox:
		if m != nil {
			detail = l.enum("mbtype.", typeOrUnknown(m.Type))
		}
	case audit.CodeLargeItems:
		if m != nil && len(m.Largest) > 0 {
			detail = l.Bytes(m.Largest[0].Bytes)
		}
	}
	return findingText(l, "finding.", f.Code, f.Count, f.Message, f.Action, detail)
}

func graphCaption(l *Localizer) func(comps, drawn, left int) string {
	return func(comps, drawn, left int) string {
		s := l.Tn("graph.caption", int64(comps), l.Int(int64(drawn)))
		if left > 0 {
			s += " " + l.T("graph.left_out", l.Int(int64(left)))
		}
		return s
	}
}

func localPart(addr string) string {
	if i := strings.IndexByte(addr, '@'); i > 0 {
		return addr[:i]
	}
	return addr
}

func typeOrUnknown(t string) string {
	if t == "" {
		return "unknown"
	}
	return t
}

func bytesOrDash(l *Localizer, n int64) string {
	if n == 0 {
		return "–"
	}
	return l.Bytes(n)
}

func yesNo(l *Localizer, b bool) string {
	if b {
		return l.T("yes")
	}
	return l.T("no")
}
