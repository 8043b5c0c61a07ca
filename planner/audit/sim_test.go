package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	exews "github.com/bascule-migrate/bascule/extract/ews"
	exgraph "github.com/bascule-migrate/bascule/extract/graph"
	"github.com/bascule-migrate/bascule/planner/audit"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

const secret = "audit-test-secret"

type graphEnv struct {
	ten *tenant.Tenant
	sim *simgraph.Server
	src *exgraph.Source
}

func startGraph(t *testing.T, cfg tenant.Config) *graphEnv {
	t.Helper()
	ten := tenant.Generate(cfg)
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "audit-test", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	src, err := exgraph.New(context.Background(), exgraph.Config{Endpoint: sim.GraphEndpoint(), AuthorityHost: sim.AuthorityHost(),
		TenantID: sim.TenantID(), ClientID: "audit-test", ClientSecret: secret, CAFile: ca, GlobalConcurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	return &graphEnv{ten: ten, sim: sim, src: src}
}

// truth is what the tenant really holds, computed from sim/tenant directly.
type truth struct {
	kinds   map[string]audit.KindStats
	folders map[string][2]int64 // mailbox \x00 kind \x00 path → items, bytes
	series  int64
	excepts int64
	over    int64
}

func tenantTruth(ten *tenant.Tenant, limit int64) truth { return tenantTruthAs(ten, limit, false) }

// tenantTruthAs is tenantTruth as EWS shows the tenant when ews is set: the default task
// list is the distinguished folder "Tasks" (sim/ews names it so, as Exchange does).
func tenantTruthAs(ten *tenant.Tenant, limit int64, ews bool) truth {
	tr := truth{kinds: map[string]audit.KindStats{}, folders: map[string][2]int64{}}
	add := func(mbx, kind string, path []string, items, bytes int64) {
		k := tr.kinds[kind]
		k.Items += items
		k.Bytes += bytes
		k.Folders++
		tr.kinds[kind] = k
		key := mbx + "\x00" + kind + "\x00" + strings.Join(path, "\x00")
		v := tr.folders[key]
		tr.folders[key] = [2]int64{v[0] + items, v[1] + bytes}
	}
	for _, u := range ten.Users() {
		msgs := ten.Messages(u.ID)
		fs := ten.Folders(u.ID)
		byID := map[string]tenant.Folder{}
		for _, f := range fs {
			byID[f.ID] = f
		}
		path := func(f tenant.Folder) []string {
			var p []string
			for ok := true; ok; f, ok = byID[f.ParentID] {
				p = append([]string{f.DisplayName}, p...)
			}
			return p
		}
		for _, f := range fs {
			var n, b int64
			for _, m := range msgs {
				if m.FolderID == f.ID {
					n++
					b += m.Size
					if limit > 0 && m.Size > limit {
						tr.over++
					}
				}
			}
			add(u.UPN, audit.KindMail, path(f), n, b)
		}
		for _, c := range ten.Calendars(u.ID) {
			if !strings.EqualFold(c.Owner.Address, u.Mail) && !strings.EqualFold(c.Owner.Address, u.UPN) && c.Owner.Address != "" {
				continue
			}
			evs := ten.Events(u.ID, c.ID)
			for _, e := range evs {
				if e.Type == "seriesMaster" {
					tr.series++
					tr.excepts += int64(len(e.Exceptions))
				}
			}
			add(u.UPN, audit.KindCalendar, []string{c.Name}, int64(len(evs)), 0)
		}
		for _, c := range ten.ContactFolders(u.ID) {
			add(u.UPN, audit.KindContacts, []string{c.DisplayName}, int64(len(ten.Contacts(u.ID, c.ID))), 0)
		}
		for _, l := range ten.TaskLists(u.ID) {
			if l.WellKnown == "flaggedEmails" {
				continue // flagged messages, carried by the mail's \Flagged: no collection
			}
			name := l.DisplayName
			if ews && l.WellKnown == "defaultList" {
				name = "Tasks"
			}
			add(u.UPN, audit.KindTasks, []string{name}, int64(len(ten.Tasks(u.ID, l.ID))), 0)
		}
	}
	return tr
}

func reportFolders(rep *audit.Report) map[string][2]int64 {
	out := map[string][2]int64{}
	for _, m := range rep.Mailboxes {
		for _, f := range m.Folders {
			key := m.Address + "\x00" + f.Kind + "\x00" + strings.Join(f.Path, "\x00")
			v := out[key]
			out[key] = [2]int64{v[0] + f.Items, v[1] + f.Bytes}
		}
	}
	return out
}

func checkTotals(t *testing.T, rep *audit.Report, tr truth) {
	t.Helper()
	for _, m := range rep.Mailboxes {
		if m.Error != "" {
			t.Errorf("mailbox %s: %s", m.Address, m.Error)
		}
	}
	for _, k := range []string{audit.KindMail, audit.KindCalendar, audit.KindContacts, audit.KindTasks} {
		if got, want := rep.Totals.Kinds[k], tr.kinds[k]; got != want {
			t.Errorf("totals %s = %+v, tenant holds %+v", k, got, want)
		}
	}
	got := reportFolders(rep)
	if len(got) != len(tr.folders) {
		t.Errorf("%d folders in the report, the tenant has %d", len(got), len(tr.folders))
	}
	for k, want := range tr.folders {
		if got[k] != want {
			t.Errorf("folder %q = %v, tenant holds %v", strings.ReplaceAll(k, "\x00", "/"), got[k], want)
		}
	}
	if rep.Totals.Series != tr.series || rep.Totals.Exceptions != tr.excepts {
		t.Errorf("series %d, exceptions %d; the tenant has %d, %d", rep.Totals.Series, rep.Totals.Exceptions, tr.series, tr.excepts)
	}
}

func runAudit(t *testing.T, src extract.Source, inv extract.Inventory, set extract.SettingsSource, limit int64, reqs func() (map[string]int64, int64)) *audit.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := audit.Run(ctx, audit.Config{Source: src, Inventory: inv, Settings: set, TargetMaxMessageSize: limit,
		Parallel: 16, Requests: reqs, SourceName: "graph"})
	if err != nil {
		t.Fatalf("audit.Run() = %v", err)
	}
	return rep
}

func TestAuditSmallTenantGraph(t *testing.T) {
	cfg := tenant.Small()
	cfg.LargeMessages = 2
	cfg.Messages = 200
	e := startGraph(t, cfg)
	const limit = 15 << 20
	rep := runAudit(t, e.src, e.src, e.src, limit, func() (map[string]int64, int64) {
		var total int64
		for _, n := range e.sim.Counts() {
			total += n
		}
		return e.sim.MailboxCounts(), total
	})
	tr := tenantTruth(e.ten, limit)
	checkTotals(t, rep, tr)
	if rep.Totals.OverLimit != tr.over || tr.over != 2 {
		t.Errorf("over limit: report %d, tenant %d (want 2)", rep.Totals.OverLimit, tr.over)
	}
	var rules, oof int
	for _, u := range e.ten.Users() {
		rules += len(e.ten.Rules(u.ID))
		if ar, err := e.ten.AutoReply(u.ID); err == nil && ar.Status != "disabled" {
			oof++
		}
	}
	if rep.Totals.Rules != rules || rep.Totals.RulesToSieve == 0 || rep.Totals.RulesManual == 0 || rep.Totals.RulesToSieve+rep.Totals.RulesManual != rules {
		t.Errorf("rules %d (%d Sieve, %d manual); the tenant has %d, some of each kind", rep.Totals.Rules, rep.Totals.RulesToSieve, rep.Totals.RulesManual, rules)
	}
	if rep.Totals.AutoReplyOn != oof {
		t.Errorf("%d out-of-office on, the tenant has %d", rep.Totals.AutoReplyOn, oof)
	}
	if rep.Totals.ByType["shared"] != 1 || rep.Totals.ByType["user"] != len(e.ten.Users())-1 {
		t.Errorf("types %v", rep.Totals.ByType)
	}
	t.Logf("requests %d; totals %+v; findings %v", rep.Requests, rep.Totals, rep.Totals.Findings)
	for _, m := range rep.Mailboxes {
		t.Logf("%s: %d requests, estimate %+v, largest %d", m.Address, m.Requests, m.Estimate, len(m.Largest))
	}
}

// graphBound is the documented per-mailbox request bound of a Graph audit (docs/AUDIT.md):
// 13 + P + 2·CF + 2·CAL + TL + Σ ⌈G/100⌉, with P the mail folders that have subfolders,
// CF the contact folders, CAL the calendars, TL the task lists and G the permissions of each
// calendar the mailbox owns (one page per 100, at least one).
func graphBound(ten *tenant.Tenant, u tenant.User) int64 {
	var p, perms int64
	fs := ten.Folders(u.ID)
	parents := map[string]bool{}
	for _, f := range fs {
		parents[f.ParentID] = true
	}
	for _, f := range fs {
		if parents[f.ID] {
			p++
		}
	}
	cals := ten.Calendars(u.ID)
	for _, k := range cals {
		if k.Owner.Address == "" || strings.EqualFold(k.Owner.Address, u.Mail) {
			ps, _ := ten.CalendarPermissions(u.ID, k.ID)
			perms += max(1, (int64(len(ps))+99)/100)
		}
	}
	cf := int64(len(ten.ContactFolders(u.ID)))
	return 13 + p + 2*cf + 2*int64(len(cals)) + int64(len(ten.TaskLists(u.ID))) + perms
}

// TestAuditThousandMailboxesGraph is the acceptance test of issue 6: a 1,000-mailbox tenant
// is audited from folder statistics within the documented per-mailbox request bound, and
// its totals equal the tenant's.
func TestAuditThousandMailboxesGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 mailboxes: not in -short")
	}
	e := startGraph(t, tenant.Config{Seed: 6, Users: 999, Messages: 3000, LargeMessages: 0, MaxAttachment: 64 << 10})
	e.sim.ResetCounts()
	e.sim.ResetMailboxCounts()
	const limit = 100 << 10
	start := time.Now()
	rep := runAudit(t, e.src, e.src, e.src, limit, func() (map[string]int64, int64) {
		var total int64
		for _, n := range e.sim.Counts() {
			total += n
		}
		return e.sim.MailboxCounts(), total
	})
	t.Logf("audit of %d mailboxes: %v, %d requests", len(rep.Mailboxes), time.Since(start), rep.Requests)
	if len(rep.Mailboxes) != 1000 {
		t.Fatalf("%d mailboxes audited, want 1000", len(rep.Mailboxes))
	}
	tr := tenantTruth(e.ten, limit)
	checkTotals(t, rep, tr)
	if rep.Totals.OverLimit != tr.over {
		t.Errorf("over limit: report %d, tenant %d", rep.Totals.OverLimit, tr.over)
	}
	counts := e.sim.MailboxCounts()
	var most int64
	for _, u := range e.ten.Users() {
		n, bound := counts[u.ID], graphBound(e.ten, u)
		if n == 0 || n > bound {
			t.Errorf("%s: %d requests, bound %d", u.UPN, n, bound)
		}
		most = max(most, n)
	}
	t.Logf("most requests for one mailbox: %d", most)
}

// signature is what a Graph audit and an EWS audit of the same mailbox must agree on.
func signature(m audit.Mailbox) map[string]string {
	out := map[string]string{}
	gw := map[string][]string{}
	for _, f := range m.Folders {
		if f.Kind == audit.KindMail {
			out["folder "+f.Kind+" "+strings.Join(f.Path, "/")] = fmt.Sprintf("%d items %d bytes %v", f.Items, f.Bytes, f.Care)
			continue
		}
		// Default collections are named by each face its own way ("Tasks" on EWS): compare
		// the collections of a kind by their counts.
		gw[f.Kind] = append(gw[f.Kind], fmt.Sprintf("%d/%d", f.Items, f.Bytes))
	}
	for k, v := range gw {
		slices.Sort(v)
		out["collections "+k] = strings.Join(v, " ")
	}
	out["series"] = fmt.Sprint(m.Series, m.Exceptions)
	out["contacts/tasks"] = fmt.Sprint(m.Contacts, m.Tasks)
	out["over"] = fmt.Sprint(m.OverLimit, m.OverLimitCapped)
	var sizes []int64
	for _, it := range m.Largest {
		sizes = append(sizes, it.Bytes)
	}
	out["largest"] = fmt.Sprint(sizes)
	for _, r := range m.Rules {
		out["rule "+r.Name] = fmt.Sprint(r.Enabled, r.Sieve)
	}
	out["oof"] = m.AutoReply
	out["depth"] = fmt.Sprint(m.MaxDepth)
	out["archive"] = fmt.Sprint(m.Archive)
	return out
}

// TestAuditEWSEqualsGraph audits one tenant through both faces: the same figures.
func TestAuditEWSEqualsGraph(t *testing.T) {
	cfg := tenant.Small()
	cfg.LargeMessages = 2
	cfg.Messages = 200
	g := startGraph(t, cfg)
	sim, err := simews.Start(simews.Options{Tenant: g.ten})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ca := filepath.Join(t.TempDir(), "ews-ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	var boxes []string
	for _, u := range g.ten.Users() {
		boxes = append(boxes, u.Mail)
	}
	user, pw := sim.ServiceAccount()
	es, err := exews.New(context.Background(), exews.Config{ClientConfig: exews.ClientConfig{URL: sim.EWSURL(), Auth: exews.AuthNTLM,
		Username: user, Password: pw, Impersonate: true, CAFile: ca, BaseBackoff: 10 * time.Millisecond}, Mailboxes: boxes})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 15 << 20
	gr := runAudit(t, g.src, g.src, g.src, limit, nil)
	sim.ResetMailboxCounts()
	er := runAudit(t, es, es, es, limit, func() (map[string]int64, int64) {
		per := sim.MailboxCounts()
		out := map[string]int64{}
		var total int64
		for _, u := range g.ten.Users() {
			out[strings.ToLower(u.Mail)] = per[u.ID]
		}
		for _, n := range sim.Counts() {
			total += n
		}
		return out, total
	})
	t.Logf("EWS operations: %v", sim.Counts())
	checkTotals(t, er, tenantTruthAs(g.ten, limit, true))
	if len(gr.Mailboxes) != len(er.Mailboxes) {
		t.Fatalf("graph audited %d mailboxes, ews %d", len(gr.Mailboxes), len(er.Mailboxes))
	}
	byAddr := map[string]audit.Mailbox{}
	for _, m := range er.Mailboxes {
		byAddr[strings.ToLower(m.Address)] = m
	}
	for _, gm := range gr.Mailboxes {
		em, ok := byAddr[strings.ToLower(gm.Address)]
		if !ok {
			t.Errorf("%s: not in the EWS audit", gm.Address)
			continue
		}
		gs, ess := signature(gm), signature(em)
		for k, v := range gs {
			if ess[k] != v {
				t.Errorf("%s %s: graph %q, ews %q", gm.Address, k, v, ess[k])
			}
		}
		for k, v := range ess {
			if _, ok := gs[k]; !ok {
				t.Errorf("%s %s: only in the EWS audit (%q)", gm.Address, k, v)
			}
		}
		u, _ := g.ten.User(gm.Address)
		if n, bound := em.Requests, ewsBound(g.ten, u); n == 0 || n > bound {
			t.Errorf("%s: %d EWS requests, bound %d", gm.Address, n, bound)
		}
		t.Logf("%s: graph %d requests, ews %d", gm.Address, gm.Requests, em.Requests)
	}
}

// ewsBound is the documented per-mailbox request bound of an EWS audit (docs/AUDIT.md):
// 8 + ⌈F/1000⌉ + ⌈M/100⌉ + ⌈F/20⌉ + G + Σ over calendars (1 + ⌈S/100⌉), with F the
// folders, M the non-empty mail folders, G the distinct grantee addresses (each resolved
// once per process) and S the series of a calendar.
func ewsBound(ten *tenant.Tenant, u tenant.User) int64 {
	fs := ten.Folders(u.ID)
	var m int64
	for _, f := range fs {
		if n, _, _ := ten.FolderCounts(u.ID, f.ID); n > 0 {
			m++
		}
	}
	folders := int64(len(fs) + len(ten.Calendars(u.ID)) + len(ten.ContactFolders(u.ID)) + len(ten.TaskLists(u.ID)))
	grantees := map[string]bool{}
	for _, g := range ten.Grants(u.ID) {
		if strings.Contains(g.Grantee, "@") {
			grantees[strings.ToLower(g.Grantee)] = true
		}
	}
	b := 8 + (folders+999)/1000 + (m+99)/100 + (folders+19)/20 + int64(len(grantees))
	for _, c := range ten.Calendars(u.ID) {
		var s int64
		for _, e := range ten.Events(u.ID, c.ID) {
			if e.Type == "seriesMaster" {
				s++
			}
		}
		b += 1 + (s+99)/100
	}
	return b
}

// BenchmarkAuditGraph measures the audit of a 1,000-mailbox tenant through sim/graph
// (go test -run '^$' -bench AuditGraph ./planner/audit): mailboxes per second and requests
// per mailbox, emulator and audit on the same machine.
func BenchmarkAuditGraph(b *testing.B) {
	ten := tenant.Generate(tenant.Config{Seed: 6, Users: 999, Messages: 3000, MaxAttachment: 64 << 10})
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "audit-bench", ClientSecret: secret})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		src, err := exgraph.New(context.Background(), exgraph.Config{Endpoint: sim.GraphEndpoint(), AuthorityHost: sim.AuthorityHost(),
			TenantID: sim.TenantID(), ClientID: "audit-bench", ClientSecret: secret, CAFile: ca, GlobalConcurrency: 64})
		if err != nil {
			b.Fatal(err)
		}
		sim.ResetCounts()
		start := time.Now()
		rep, err := audit.Run(context.Background(), audit.Config{Source: src, Inventory: src, Settings: src, Parallel: 32})
		if err != nil {
			b.Fatal(err)
		}
		var reqs int64
		for _, n := range sim.Counts() {
			reqs += n
		}
		b.ReportMetric(float64(len(rep.Mailboxes))/time.Since(start).Seconds(), "mailboxes/s")
		b.ReportMetric(float64(reqs)/float64(len(rep.Mailboxes)), "requests/mailbox")
	}
}
