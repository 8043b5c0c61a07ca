package audit

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestEstimateMailboxBounds(t *testing.T) {
	tp := DefaultThroughput()
	perMbxMsgs := BenchMessagesPerSecond / BenchMailboxes

	// A small mailbox of small messages: the message rate bounds it.
	small := EstimateMailbox(Work{Messages: 1000, Bytes: 10 << 20, Folders: 10}, 4, tp)
	if small.Bound != "items" || math.Abs(small.Seconds-1000/perMbxMsgs) > 1e-9 {
		t.Errorf("small mailbox: %+v, want items-bound %.3f s", small, 1000/perMbxMsgs)
	}
	if small.Requests != 1000+10+20 {
		t.Errorf("small mailbox requests = %d, want 1030 (bodies, pages, 2 per folder)", small.Requests)
	}

	// Few huge messages: the byte rate.
	big := EstimateMailbox(Work{Messages: 100, Bytes: 5 << 30, Folders: 5}, 4, tp)
	if want := float64(5<<30) / (BenchBytesPerSecond / BenchMailboxes); big.Bound != "bytes" || math.Abs(big.Seconds-want) > 1e-6 {
		t.Errorf("big mailbox: %+v, want bytes-bound %.1f s", big, want)
	}

	// Many small messages: Microsoft's budget (10,000 requests, then 16.67/s).
	many := EstimateMailbox(Work{Messages: 60000, Bytes: 600 << 20, Folders: 40}, 4, tp)
	want := float64(many.Requests-MailboxRequestBudget) / (MailboxRequestBudget / BudgetWindowSeconds)
	if many.Bound != "request-budget" || math.Abs(many.Seconds-want) > 1e-6 {
		t.Errorf("60,000 messages: %+v, want request-budget-bound %.1f s", many, want)
	}

	// Groupware adds its own time on top of mail.
	gw := EstimateMailbox(Work{Messages: 1000, Bytes: 10 << 20, Groupware: 454, Folders: 10}, 4, tp)
	if d := gw.Seconds - small.Seconds; math.Abs(d-454/(BenchGroupwarePerSecond/BenchMailboxes)) > 1e-9 {
		t.Errorf("454 groupware items add %.3f s, want %.3f", d, 454/(BenchGroupwarePerSecond/BenchMailboxes))
	}

	// Item concurrency scales the rate up to Microsoft's 4 concurrent requests, no further.
	half := EstimateMailbox(Work{Messages: 1000, Bytes: 10 << 20, Folders: 10}, 2, tp)
	eight := EstimateMailbox(Work{Messages: 1000, Bytes: 10 << 20, Folders: 10}, 8, tp)
	if math.Abs(half.Seconds-2*small.Seconds) > 1e-9 || eight.Seconds != small.Seconds {
		t.Errorf("item-parallel 2: %.3f s, 8: %.3f s; 4: %.3f s", half.Seconds, eight.Seconds, small.Seconds)
	}
	if z := EstimateMailbox(Work{}, 4, tp); z.Seconds != 0 || z.Requests != 0 {
		t.Errorf("empty mailbox: %+v", z)
	}
}

func TestEstimateTenant(t *testing.T) {
	tp := DefaultThroughput()
	works := make([]Work, 5)
	ests := make([]Estimate, 5)
	names := []string{"a", "b", "c", "d", "e"}
	for i := range ests {
		ests[i] = Estimate{Seconds: float64(100 * (i + 1))} // 100 … 500 s
		works[i] = Work{Messages: 10}
	}
	// Longest first over 2 lanes: 500 | 400, +300 → 500 | 700, +200 → 700 | 700, +100 → 800.
	te := EstimateTenant(works, ests, names, 2, tp)
	if te.Seconds != 800 || te.Bound != "mailbox" || te.LongestMailbox != "e" || te.LongestSeconds != 500 {
		t.Errorf("2 lanes: %+v, want 800 s mailbox-bound, longest e 500 s", te)
	}
	// Enough lanes: the longest mailbox bounds the run.
	if te := EstimateTenant(works, ests, names, 10, tp); te.Seconds != 500 {
		t.Errorf("10 lanes: %+v, want 500 s", te)
	}
	// A lot of bytes overall: the machine's aggregate rate bounds it.
	works[0].Bytes = 1 << 40
	te = EstimateTenant(works, ests, names, 10, tp)
	if want := float64(1<<40) / BenchBytesPerSecond; te.Bound != "machine" || math.Abs(te.Seconds-want) > 1e-6 {
		t.Errorf("1 TiB: %+v, want machine-bound %.0f s", te, want)
	}
}

func care(fs []Folder, path string) []string {
	for _, f := range fs {
		if strings.Join(f.Path, "\x00") == path {
			return f.Care
		}
	}
	return nil
}

func TestMarkNames(t *testing.T) {
	deep := make([]string, MaxFolderDepth+1)
	for i := range deep {
		deep[i] = "d"
	}
	fs := []Folder{
		{Path: []string{"Inbox"}, Kind: KindMail},
		{Path: []string{"A/B tests"}, Kind: KindMail},
		{Path: []string{"v1.2"}, Kind: KindMail},
		{Path: []string{"Projets"}, Kind: KindMail},
		{Path: []string{"PROJETS"}, Kind: KindMail},
		{Path: []string{"Inbox", "projets"}, Kind: KindMail}, // another parent: no duplicate
		{Path: []string{strings.Repeat("é", 128)}, Kind: KindMail},
		{Path: []string{"tab\there"}, Kind: KindMail},
		{Path: []string{" padded"}, Kind: KindMail},
		{Path: deep, Kind: KindMail, Depth: len(deep)},
		{Path: []string{"Cal/endar"}, Kind: KindCalendar}, // collections are not IMAP names
	}
	markNames(fs)
	for _, c := range []struct {
		path string
		want []string
	}{
		{"Inbox", nil},
		{"A/B tests", []string{NameSeparator}},
		{"v1.2", []string{NameSeparator}},
		{"Projets", []string{NameCaseDuplicate}},
		{"PROJETS", []string{NameCaseDuplicate}},
		{"Inbox\x00projets", nil},
		{strings.Repeat("é", 128), []string{NameLong}},
		{"tab\there", []string{NameControl}},
		{" padded", []string{NameEdgeSpace}},
		{strings.Join(deep, "\x00"), []string{NameDeep}},
		{"Cal/endar", nil},
	} {
		if got := care(fs, c.path); !slices.Equal(got, c.want) {
			t.Errorf("%q: care %v, want %v", c.path, got, c.want)
		}
	}
}

func codes(fs []Finding, mailbox string) map[string]Severity {
	out := map[string]Severity{}
	for _, f := range fs {
		if f.Mailbox == mailbox {
			out[f.Code] = f.Severity
		}
	}
	return out
}

func TestFindings(t *testing.T) {
	rep := &Report{Options: Options{MailboxParallel: 4}, Estimate: TenantEstimate{Seconds: 3600, Bound: "mailbox", LongestMailbox: "a@x"}}
	rep.Mailboxes = []Mailbox{
		{Address: "a@x", Type: "user", OverLimit: 3, Archive: true,
			Folders: []Folder{{Path: []string{"A/B"}, Kind: KindMail, Care: []string{NameSeparator}},
				{Path: []string{strings.Repeat("x", 300)}, Kind: KindMail, Care: []string{NameLong}}},
			Rules:          []Rule{{Name: "ok", Sieve: true}, {Name: "bad", Sieve: false, Reason: "assignCategories"}},
			AutoReply:      "scheduled",
			DelegationsOut: []Delegation{{Owner: "a@x", Grantee: "b@x", Scope: "calendar"}, {Owner: "a@x", Grantee: "group@x", Scope: "sendas"}},
			Estimate:       Estimate{Seconds: 7200, Bound: "request-budget", Requests: 130000}},
		{Address: "b@x", Type: "shared"},
		{Address: "room@x", Type: "room", AutoReply: "disabled"},
		{Address: "c@x", Error: "403 Forbidden"},
		{Address: "d@x", Type: "user", OverLimitCapped: true},
	}
	linkDelegations(rep.Mailboxes)
	fs := Findings(rep, 50<<20)
	a := codes(fs, "a@x")
	for code, sev := range map[string]Severity{CodeOverLimit: Blocking, CodeFolderNameLong: Blocking, CodeFolderName: Info,
		CodeRuleNotSieve: Warning, CodeAutoReply: Info, CodeArchive: Warning, CodeDelegations: Info,
		CodeExternalGrantee: Warning, CodeSendAsDelegation: Warning, CodeBudgetBound: Warning} {
		if a[code] != sev {
			t.Errorf("a@x %s: severity %q, want %q", code, a[code], sev)
		}
	}
	if _, ok := a[CodeSharedMailbox]; ok {
		t.Error("a@x is a user mailbox, not shared")
	}
	if b := codes(fs, "b@x"); b[CodeSharedMailbox] != Info || b[CodeDelegations] != Info {
		t.Errorf("b@x (shared, delegate of a): %v", b)
	}
	if r := codes(fs, "room@x"); r[CodeResourceMailbox] != Warning || r[CodeAutoReply] != "" {
		t.Errorf("room@x: %v", r)
	}
	if c := codes(fs, "c@x"); c[CodeMailboxError] != Blocking {
		t.Errorf("c@x: %v", c)
	}
	if d := codes(fs, "d@x"); d[CodeOverLimitUnknown] != Warning {
		t.Errorf("d@x (size query unanswered): %v", d)
	}
	if _, ok := a[CodeOverLimitUnknown]; ok {
		t.Error("a@x has a known count over the limit")
	}
	if ten := codes(fs, ""); ten[CodeTenantEstimate] != Info {
		t.Errorf("tenant findings: %v", ten)
	}
	// Most severe first; every finding but info says what to do.
	rank := map[Severity]int{Blocking: 0, Warning: 1, Info: 2}
	for i, f := range fs {
		if i > 0 && rank[fs[i-1].Severity] > rank[f.Severity] {
			t.Errorf("finding %d (%s) after a less severe one", i, f.Code)
		}
		if f.Severity != Info && f.Action == "" {
			t.Errorf("%s %s has no action", f.Severity, f.Code)
		}
		if f.Message == "" {
			t.Errorf("%s has no message", f.Code)
		}
	}
	rep.Findings = fs
	tot := totals(rep)
	if tot.Findings[Blocking] != 3 || tot.Mailboxes != 5 || tot.ByType["unknown"] != 1 || tot.Rules != 2 || tot.RulesManual != 1 || tot.AutoReplyOn != 1 {
		t.Errorf("totals: %+v", tot)
	}
	if tot.DelegationsOut != 2 || tot.DelegationsIn != 1 {
		t.Errorf("delegations out %d, in %d; want 2, 1 (group@x is not audited)", tot.DelegationsOut, tot.DelegationsIn)
	}
}

func TestTypeOf(t *testing.T) {
	for in, want := range map[string]string{"UserMailbox": "user", "SharedMailbox": "shared", "RoomMailbox": "room",
		"EquipmentMailbox": "equipment", "": "", "DiscoveryMailbox": "discovery"} {
		if got := TypeOf(in); got != want {
			t.Errorf("TypeOf(%q) = %q, want %q", in, got, want)
		}
	}
}
