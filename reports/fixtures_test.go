package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
	"github.com/bascule-migrate/bascule/state"
)

// fixedNow is the generation time of every golden report.
var fixedNow = time.Date(2026, 11, 24, 21, 30, 0, 0, time.UTC)

// hostile is a name crafted to break out of HTML, SVG, CSV and spreadsheets.
const hostile = `=HYPERLINK("x")<img src=x onerror="console.error('xss')"><script>console.error('xss')</script>&amp;"';,`

// runFixture builds a run report from a deterministic store content: three mailboxes, one
// with a hostile folder name, failures, groupware, two runs.
func runFixture() *RunReport {
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	runs := []state.Run{
		{ID: 2, Started: t0.Add(2 * time.Hour), Finished: t0.Add(2*time.Hour + 5*time.Minute), Command: "migrate", Status: "done", Written: 3, Skipped: 400},
		{ID: 1, Started: t0, Finished: t0.Add(50 * time.Minute), Command: "migrate", Status: "failed", Written: 397, Failed: 3, Bytes: 123456789},
	}
	b := newRunBuilder(runs, fixedNow)
	sizes := []int64{512, 4 << 10, 20 << 10, 150 << 10, 3 << 20, 12 << 20, 30 << 20}
	for mi, addr := range []string{"alice@example.fr", "bob@example.fr", "zoé.lefèvre@example.fr"} {
		m := state.Mailbox{ID: fmt.Sprintf("mbx-%d", mi), Address: addr, Target: "u" + fmt.Sprint(mi), Status: "done", Updated: t0.Add(time.Hour)}
		folders := []state.Folder{
			{Mailbox: m.ID, ID: "f-inbox", Path: "Inbox", Target: "INBOX"},
			{Mailbox: m.ID, ID: "f-proj", Path: "Projets/Été 2026", Target: "Projets/&AMk-t&AOk- 2026"},
			{Mailbox: m.ID, ID: "f-cal", Path: "Calendar", Target: "/dav/calendars/u/default/", Kind: model.KindCalendar},
		}
		if mi == 1 {
			folders[1].Path = hostile
			m.Status = "failed"
			m.Error = "target refused login: " + hostile
		}
		var items []state.Item
		n := 100 + 50*mi
		for i := 0; i < n; i++ {
			it := state.Item{Mailbox: m.ID, ID: fmt.Sprintf("%s-it-%03d", m.ID, i), FolderID: "f-inbox", Status: state.StatusDone,
				Size: sizes[(i*i+mi)%len(sizes)], Updated: t0.Add(time.Duration(i*(15+5*mi)+(i%7)*40+mi*90) * time.Second)}
			if i%5 == 1 {
				it.FolderID = "f-proj"
			}
			if i%9 == 0 {
				it.FolderID, it.Kind = "f-cal", model.KindCalendar
			}
			items = append(items, it)
		}
		if mi == 1 {
			items[1].Status, items[1].LastError, items[1].Attempts = state.StatusFailed, "APPEND: [LIMIT] message too large; "+hostile, 3
			items[4].Status, items[4].LastError, items[4].Attempts = state.StatusFailed, "NO [OVERQUOTA] Quota exceeded", 1
			items[5].Status = state.StatusInFlight
		}
		if mi == 2 {
			for i := 0; i < 3; i++ {
				items = append(items, state.Item{Mailbox: m.ID, ID: fmt.Sprintf("late-%d", i), FolderID: "f-inbox", Status: state.StatusDone,
					Size: 2048, Updated: t0.Add(2*time.Hour + time.Duration(i)*time.Minute)})
			}
			items = append(items, state.Item{Mailbox: m.ID, ID: "gone", FolderID: "f-inbox", Status: state.StatusDeleted})
		}
		b.add(m, folders, items)
	}
	return b.finish()
}

// auditFixture is an audit of a small tenant: users, a shared mailbox and a room, two
// delegation groups, every kind of finding, a hostile folder name and subject.
func auditFixture() *audit.Report {
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	rep := &audit.Report{Schema: audit.SchemaVersion, Tool: "bascule test", Source: "graph", Endpoint: "https://graph.microsoft.com/v1.0",
		Started: t0, Finished: t0.Add(4 * time.Minute), Requests: 420,
		Options: audit.Options{TargetMaxMessageSize: 25 << 20, MailboxParallel: 4, ItemParallel: 4, LargestItems: 3,
			Model: audit.Throughput{MessagesPerSecond: 180, BytesPerSecond: 24 << 20, GroupwarePerSecond: 90, MailboxRequestsPerSecond: 16.67, MailboxConcurrency: 4, PerItemLatency: 0.08, Source: "make bench, 2 cores"}},
		Totals: audit.Totals{ByType: map[string]int{}, Kinds: map[string]audit.KindStats{}, Findings: map[audit.Severity]int{}}}
	type spec struct {
		addr, typ string
		items     int64
		bytes     int64
		out       []string
	}
	specs := []spec{
		{"alice@example.fr", "user", 12000, 3 << 30, []string{"bob@example.fr"}},
		{"bob@example.fr", "user", 8000, 900 << 20, nil},
		{"accueil@example.fr", "shared", 30000, 12 << 30, []string{"alice@example.fr", "bob@example.fr", "chloé.martin@example.fr"}},
		{"chloé.martin@example.fr", "user", 2500, 300 << 20, nil},
		{"david@example.fr", "user", 60000, 55 << 30, []string{"emma@example.fr"}},
		{"emma@example.fr", "user", 400, 40 << 20, []string{"david@example.fr"}},
		{"salle-conseil@example.fr", "room", 900, 2 << 20, nil},
		{"francois@example.fr", "user", 100, 1 << 20, nil},
		{"gaelle@example.fr", "", 0, 0, nil},
	}
	for i, s := range specs {
		m := audit.Mailbox{Address: s.addr, DisplayName: strings.ToUpper(s.addr[:1]) + s.addr[1:strings.IndexByte(s.addr, '@')], Type: s.typ,
			Items: s.items, Bytes: s.bytes, Kinds: map[string]audit.KindStats{
				audit.KindMail:     {Items: s.items * 8 / 10, Bytes: s.bytes, Folders: 12},
				audit.KindCalendar: {Items: s.items / 10, Folders: 1},
				audit.KindContacts: {Items: s.items / 20, Folders: 1},
				audit.KindTasks:    {Items: s.items / 20, Folders: 1},
			},
			Folders: []audit.Folder{
				{Path: []string{"Inbox"}, Kind: audit.KindMail, WellKnown: "inbox", Items: s.items / 2, Bytes: s.bytes / 2, Depth: 1},
				{Path: []string{"Projets", "Été 2026"}, Kind: audit.KindMail, Items: s.items / 4, Bytes: s.bytes / 4, Depth: 2},
				{Path: []string{"Calendar"}, Kind: audit.KindCalendar, Items: s.items / 10, Depth: 1},
			},
			MaxDepth: 2, Series: s.items / 200, Exceptions: s.items / 500, Contacts: s.items / 20, Tasks: s.items / 20,
			AutoReply: "disabled",
			Estimate:  audit.Estimate{Seconds: float64(s.items) / 12, Requests: s.items + 40, Bound: "items"},
			Requests:  40 + int64(i)}
		if s.bytes > 10<<30 {
			m.Estimate.Bound = "request-budget"
		}
		m.Largest = []audit.Item{{Subject: "Rapport annuel " + s.addr, Folder: []string{"Inbox"}, Bytes: 30<<20 - int64(i)<<20, Received: t0.Add(-time.Duration(i) * 24 * time.Hour)}}
		if i == 0 {
			m.Folders = append(m.Folders, audit.Folder{Path: []string{"Projets", hostile}, Kind: audit.KindMail, Items: 3, Depth: 2, Care: []string{audit.NameSeparator, audit.NameEdgeSpace}})
			m.Largest = append(m.Largest, audit.Item{Subject: hostile, Folder: []string{"Projets", hostile}, Bytes: 2 << 20})
			m.OverLimit = 2
			m.Rules = []audit.Rule{{Name: "Vers Projets", Enabled: true, Sieve: true}, {Name: hostile, Enabled: true, Reason: "forward as attachment has no Sieve form"}}
			m.AutoReply = "alwaysEnabled"
			m.Archive = true
		}
		for _, g := range s.out {
			d := audit.Delegation{Owner: s.addr, Grantee: g, Scope: "mailbox", Role: "FullAccess", Origin: "mailbox-permissions.csv line 4"}
			if s.typ != "shared" {
				d.Scope, d.Folder, d.Role, d.Origin = "calendar", "Calendar", "Editor", "Graph calendarPermissions"
			}
			m.DelegationsOut = append(m.DelegationsOut, d)
		}
		if s.addr == "gaelle@example.fr" {
			m.Error = "ErrorAccessDenied: " + hostile
			m.Kinds = nil
		}
		rep.Mailboxes = append(rep.Mailboxes, m)
	}
	for i := range rep.Mailboxes {
		for _, d := range rep.Mailboxes[i].DelegationsOut {
			for j := range rep.Mailboxes {
				if rep.Mailboxes[j].Address == d.Grantee {
					rep.Mailboxes[j].DelegationsIn = append(rep.Mailboxes[j].DelegationsIn, d)
				}
			}
		}
	}
	t := &rep.Totals
	for _, m := range rep.Mailboxes {
		t.Mailboxes++
		t.ByType[m.Type]++
		t.Items += m.Items
		t.Bytes += m.Bytes
		for k, ks := range m.Kinds {
			x := t.Kinds[k]
			x.Items += ks.Items
			x.Bytes += ks.Bytes
			x.Folders += ks.Folders
			t.Kinds[k] = x
		}
		t.OverLimit += m.OverLimit
		t.Series += m.Series
		t.Exceptions += m.Exceptions
		t.DelegationsOut += len(m.DelegationsOut)
		t.DelegationsIn += len(m.DelegationsIn)
		for _, r := range m.Rules {
			t.Rules++
			if r.Sieve {
				t.RulesToSieve++
			} else {
				t.RulesManual++
			}
		}
	}
	t.Archives, t.AutoReplyOn = 1, 1
	t.MailboxSizes = []audit.Bucket{{Min: 0, Max: 100e6, Count: 4}, {Min: 100e6, Max: 1e9, Count: 2}, {Min: 1e9, Max: 10e9, Count: 1}, {Min: 10e9, Max: 50e9, Count: 1}, {Min: 50e9, Count: 1}}
	rep.Findings = []audit.Finding{
		{Code: audit.CodeMailboxError, Severity: audit.Blocking, Mailbox: "gaelle@example.fr", Count: 1, Message: "the mailbox could not be audited: ErrorAccessDenied", Action: "fix the cause"},
		{Code: audit.CodeOverLimit, Severity: audit.Blocking, Mailbox: "alice@example.fr", Count: 2, Message: "2 items over 25 MiB", Action: "raise the limit"},
		{Code: audit.CodeRuleNotSieve, Severity: audit.Warning, Mailbox: "alice@example.fr", Subject: hostile, Count: 1, Message: "inbox rule has no faithful Sieve form: forward as attachment has no Sieve form", Action: "recreate"},
		{Code: audit.CodeArchive, Severity: audit.Warning, Mailbox: "alice@example.fr", Count: 1, Message: "archive", Action: "decide"},
		{Code: audit.CodeResourceMailbox, Severity: audit.Warning, Mailbox: "salle-conseil@example.fr", Count: 1, Message: "room mailbox", Action: "set up"},
		{Code: audit.CodeBudgetBound, Severity: audit.Warning, Mailbox: "david@example.fr", Count: 60040, Message: "budget", Action: "early wave"},
		{Code: "some-future-code", Severity: audit.Warning, Mailbox: "bob@example.fr", Count: 1, Message: "a finding this version of reports does not know", Action: "read the audit documentation"},
		{Code: audit.CodeFolderName, Severity: audit.Info, Mailbox: "alice@example.fr", Subject: "Projets/" + hostile, Count: 1, Message: "folder name holds separator characters"},
		{Code: audit.CodeAutoReply, Severity: audit.Info, Mailbox: "alice@example.fr", Count: 1, Message: "out-of-office is alwaysEnabled"},
		{Code: audit.CodeSharedMailbox, Severity: audit.Info, Mailbox: "accueil@example.fr", Count: 1, Message: "shared"},
		{Code: audit.CodeDelegations, Severity: audit.Info, Mailbox: "accueil@example.fr", Count: 3, Message: "3 delegations given, 0 received"},
		{Code: audit.CodeLargeItems, Severity: audit.Info, Mailbox: "alice@example.fr", Count: 2, Subject: "Rapport annuel", Message: "largest item 30 MiB"},
		{Code: audit.CodeTenantEstimate, Severity: audit.Info, Count: 9, Message: "estimated migration time"},
	}
	for _, f := range rep.Findings {
		t.Findings[f.Severity]++
	}
	rep.Estimate = audit.TenantEstimate{Seconds: 5400, LongestMailbox: "david@example.fr", LongestSeconds: 5000, Bound: "mailbox"}
	return rep
}

// verifyFixture is a verification that found one difference of each kind a real target
// shows (a deleted message, a changed flag, a missing occurrence, a changed contact field)
// and could not read one folder.
func verifyFixture() *verify.Report {
	t0 := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	rep := &verify.Report{Schema: verify.SchemaVersion, Started: t0, Finished: t0.Add(3*time.Minute + 12*time.Second), Verdict: verify.VerdictDifferences,
		Options: verify.ReportOptions{Kinds: []string{"mail", "calendar", "contacts", "tasks"}, Sample: 50, Seed: 42,
			WindowStart: t0.AddDate(-1, 0, 0), WindowEnd: t0.AddDate(1, 0, 0)},
		Totals: verify.Totals{Differences: map[verify.DiffKind]int{}}}
	for i, addr := range []string{"alice@example.fr", "bob@example.fr", "chloé.martin@example.fr"} {
		m := verify.MailboxReport{ID: fmt.Sprintf("id-%d", i), Address: addr, Target: strings.SplitN(addr, "@", 2)[0]}
		m.Folders = append(m.Folders, []verify.FolderReport{
			{Kind: "mail", ID: "inbox", Path: "Inbox", TargetName: "INBOX", Source: verify.Count{Items: 120, Bytes: 9 << 20}, Store: verify.Count{Items: 120}, Target: verify.Count{Items: 120, Bytes: 9 << 20}, Checked: 50},
			{Kind: "mail", ID: "proj", Path: "Projets/" + hostile, TargetName: "Projets/x", Source: verify.Count{Items: 30, Bytes: 1 << 20}, Store: verify.Count{Items: 30}, Target: verify.Count{Items: 30, Bytes: 1 << 20}, Checked: 30},
			{Kind: "calendar", ID: "cal", Path: "Calendar", TargetName: "/dav/calendars/x/default/", Source: verify.Count{Items: 40}, Store: verify.Count{Items: 40}, Target: verify.Count{Items: 40}, Checked: 40, Occurrences: 310},
			{Kind: "contacts", ID: "con", Path: "Contacts", TargetName: "/dav/addressbooks/x/default/", Source: verify.Count{Items: 25}, Store: verify.Count{Items: 25}, Target: verify.Count{Items: 25}, Checked: 25},
		}...)
		rep.Mailboxes = append(rep.Mailboxes, m)
	}
	diffs := []verify.Difference{
		{Kind: verify.MissingOnTarget, Mailbox: "alice@example.fr", Target: "alice", ItemKind: "mail", Folder: "Inbox", FolderID: "inbox", ItemID: "AAMk-1", Subject: "Budget 2027", Detail: "deleted on the target"},
		{Kind: verify.CountDiffers, Mailbox: "alice@example.fr", Target: "alice", ItemKind: "mail", Folder: "Inbox", FolderID: "inbox", Field: "items", Expected: "120", Actual: "119", Detail: "the target holds one message fewer"},
		{Kind: verify.FlagsDiffer, Mailbox: "alice@example.fr", Target: "alice", ItemKind: "mail", Folder: "Projets/" + hostile, FolderID: "proj", ItemID: "AAMk-2", Subject: hostile, TargetRef: "Projets/x;UIDVALIDITY=7;UID=12", Field: `\Seen`, Expected: "set", Actual: "unset", Detail: "read on the source, unread on the target"},
		{Kind: verify.OccurrenceMissing, Mailbox: "bob@example.fr", Target: "bob", ItemKind: "calendar", Folder: "Calendar", FolderID: "cal", ItemID: "AAMk-3", Subject: "Comité de direction", Occurrence: "2026-12-07T09:00:00Z", Detail: "an occurrence of the series is missing on the target"},
		{Kind: verify.FieldChanged, Mailbox: "chloé.martin@example.fr", Target: "chloé.martin", ItemKind: "contacts", Folder: "Contacts", FolderID: "con", ItemID: "AAMk-4", Subject: "Dupont, Jean", Field: "TEL", Expected: "+33 1 23 45 67 89", Actual: "+33 1 23 45 67 00", Detail: "telephone number changed"},
	}
	rep.Differences = diffs
	for _, d := range diffs {
		rep.Totals.Differences[d.Kind]++
		for i := range rep.Mailboxes {
			if rep.Mailboxes[i].Address == d.Mailbox {
				rep.Mailboxes[i].Differences++
				for j := range rep.Mailboxes[i].Folders {
					if rep.Mailboxes[i].Folders[j].ID == d.FolderID {
						rep.Mailboxes[i].Folders[j].Differences++
					}
				}
			}
		}
	}
	rep.Mailboxes[0].Folders[0].Target.Items = 119
	rep.Errors = []verify.Problem{{Mailbox: "bob@example.fr", Folder: "Tasks", Message: "PROPFIND /dav/calendars/bob/tasks/: 503 Service Unavailable"}}
	for _, m := range rep.Mailboxes {
		rep.Totals.Mailboxes++
		for _, f := range m.Folders {
			rep.Totals.Folders++
			rep.Totals.Source.Items += f.Source.Items
			rep.Totals.Source.Bytes += f.Source.Bytes
			rep.Totals.Target.Items += f.Target.Items
			rep.Totals.Target.Bytes += f.Target.Bytes
			rep.Totals.Checked += f.Checked
			rep.Totals.Occurrences += f.Occurrences
		}
	}
	return rep
}

// planFixture is a plan of three weekly waves with two delegation groups, a pinned wave, a
// wave over its window, a link to an unmapped mailbox and a hostile mailbox name.
func planFixture() *waves.Plan {
	start := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	p := &waves.Plan{Schema: waves.SchemaVersion, Tool: "bascule test", Generated: fixedNow,
		Inputs:  waves.Inputs{Audit: "audit.json", Mapping: "mapping.csv"},
		Options: waves.Options{Start: start, WindowSeconds: 48 * 3600, EverySeconds: 7 * 24 * 3600, Workers: 2, MailboxParallel: 4, Sized: true}}
	type mb struct {
		src   string
		gb    int64
		group int
		pin   int
	}
	plan := [][]mb{
		{{"accueil@example.fr", 12, 0, 1}, {"alice@example.fr", 3, 0, 0}, {"bob@example.fr", 1, 0, 0}, {"chloé.martin@example.fr", 1, 0, 0}, {"francois@example.fr", 1, -1, 0}},
		{{"david@example.fr", 55, 1, 0}, {"emma@example.fr", 1, 1, 0}},
		{{"gaelle@example.fr", 2, -1, 0}, {"salle-conseil@example.fr", 1, -1, 0}, {hostile + "@example.fr", 1, -1, 0}},
	}
	line := 2
	for i, ws := range plan {
		w := waves.Wave{Number: i + 1, Start: start.Add(time.Duration(i) * 7 * 24 * time.Hour)}
		var longest float64
		for _, m := range ws {
			est := float64(m.gb) * 1800
			w.Mailboxes = append(w.Mailboxes, waves.Mailbox{Source: m.src, Target: strings.SplitN(m.src, "@", 2)[0], Type: "user", Items: m.gb * 9000, Bytes: m.gb << 30,
				EstimateSeconds: est, Group: m.group, Line: line, PinnedWave: m.pin})
			line++
			w.Items += m.gb * 9000
			w.Bytes += m.gb << 30
			longest = max(longest, est)
			if m.pin > 0 {
				w.Pinned = true
			}
		}
		w.DurationSeconds = longest
		w.End = w.Start.Add(secs(longest))
		w.OverWindow = longest > p.Options.WindowSeconds
		p.Waves = append(p.Waves, w)
		p.Totals.Mailboxes += len(ws)
		p.Totals.Items += w.Items
		p.Totals.Bytes += w.Bytes
	}
	p.Waves[0].Mailboxes[0].Type = "shared"
	p.Totals.Waves, p.Totals.Groups, p.Totals.Start, p.Totals.End = 3, 2, start, p.Waves[2].End
	p.Groups = []waves.Group{
		{ID: 0, Wave: 1, Mailboxes: []string{"accueil@example.fr", "alice@example.fr", "bob@example.fr", "chloé.martin@example.fr"}, Items: 17 * 9000, Bytes: 17 << 30, EstimateSeconds: 12 * 1800},
		{ID: 1, Wave: 2, Mailboxes: []string{"david@example.fr", "emma@example.fr"}, Items: 56 * 9000, Bytes: 56 << 30, EstimateSeconds: 55 * 1800},
	}
	p.Edges = []waves.Edge{
		{Owner: "accueil@example.fr", Grantee: "alice@example.fr", Kind: waves.EdgeFullAccess, Role: "FullAccess"},
		{Owner: "accueil@example.fr", Grantee: "bob@example.fr", Kind: waves.EdgeFullAccess, Role: "FullAccess"},
		{Owner: "accueil@example.fr", Grantee: "chloé.martin@example.fr", Kind: waves.EdgeSendAs, Role: "SendAs"},
		{Owner: "alice@example.fr", Grantee: "bob@example.fr", Kind: waves.EdgeCalendar, Role: "Editor"},
		{Owner: "david@example.fr", Grantee: "emma@example.fr", Kind: waves.EdgeCalendar, Role: "Editor"},
		{Owner: "emma@example.fr", Grantee: "david@example.fr", Kind: waves.EdgeFolder, Role: "Reviewer"},
	}
	p.Findings = []waves.Finding{
		{Code: waves.FindingGroupOverWindow, Severity: waves.Warning, Wave: 2, Mailboxes: []string{"david@example.fr", "emma@example.fr"},
			Message: "group 2 takes an estimated 27h30m, more than the 48h window", Action: "lengthen --window"},
		{Code: waves.FindingUnmappedLink, Severity: waves.Warning, Mailboxes: []string{"gaelle@example.fr"}, Message: "direction@example.fr is not in the mapping", Action: "add direction@example.fr to the mapping"},
		{Code: "a-future-code", Severity: waves.Info, Wave: 3, Message: "something this version of reports does not know: " + hostile},
	}
	return p
}
