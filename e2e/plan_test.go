package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/extract/exchangecsv"
	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/waves"
	simcsv "github.com/bascule-migrate/bascule/sim/exchangecsv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestPlanWaves: bascule plan builds waves from Exchange's permission exports and a
// MigrationWiz-style mapping written by French Excel, keeping the shared mailbox with its
// members; bascule migrate --plan plan.yaml --wave N then migrates that wave's mailboxes
// and no other into a real Dovecot, and bascule worker runs the other wave the same way.
func TestPlanWaves(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 11, Users: 4, Messages: 150}})
	users := e.tenant.Users()
	var shared tenant.User
	var regular []tenant.User
	for _, u := range users {
		if u.Purpose == "shared" {
			shared = u
		} else {
			regular = append(regular, u)
		}
	}
	if shared.UPN == "" || len(regular) < 4 {
		t.Fatalf("tenant has %d users and shared mailbox %q, want 4 and one", len(regular), shared.UPN)
	}

	// The exports: the tenant's mailboxes.csv, and FullAccess on the shared mailbox for two
	// users named as Exchange names them (display name), nothing else.
	exports := filepath.Join(e.dir, "exports")
	if err := os.MkdirAll(exports, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := simcsv.Write(exports, e.tenant); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"recipient-permissions.csv", "folder-permissions.csv"} {
		os.Remove(filepath.Join(exports, f))
	}
	perms := "\"Identity\",\"User\",\"AccessRights\",\"IsInherited\",\"Deny\"\r\n"
	for _, u := range regular[:2] {
		perms += fmt.Sprintf("%q,%q,\"{FullAccess}\",\"False\",\"False\"\r\n", shared.DisplayName, u.DisplayName)
	}
	writeTestFile(t, filepath.Join(exports, "mailbox-permissions.csv"), perms)
	group := []string{shared.UPN, regular[0].UPN, regular[1].UPN}

	mapping := "\ufeffSource Email;Destination Email;Wave;Flags\r\n"
	for _, u := range users {
		mapping += u.UPN + ";" + u.UPN + ";;\r\n"
	}
	mappingFile := filepath.Join(e.dir, "users.csv")
	writeTestFile(t, mappingFile, mapping)
	planFile := filepath.Join(e.dir, "plan.yaml")

	r := e.run("plan", "--exchange-csv-dir", exports, "--mapping", mappingFile, "--max-wave-mailboxes", "3",
		"--start", "2026-12-04T20:00:00+01:00", "--every", "168h", "--out", planFile, "--list")
	if r.code != 0 {
		t.Fatalf("bascule plan exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Plan: 2 wave(s), 5 mailbox(es), 1 delegation group(s)", "Fri 2026-12-04 20:00", "Fri 2026-12-11 20:00", "Written to " + planFile} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	f, err := os.Open(planFile)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := waves.ReadYAML(f)
	f.Close()
	if err != nil {
		t.Fatalf("reading %s: %v", planFile, err)
	}
	if len(plan.Waves) != 2 || len(plan.Groups) != 1 {
		t.Fatalf("plan has %d waves and %d groups, want 2 and 1", len(plan.Waves), len(plan.Groups))
	}
	groupWave := plan.Groups[0].Wave
	otherWave := 3 - groupWave
	waveOf := map[string]int{}
	for _, w := range plan.Waves {
		for _, m := range w.Mailboxes {
			waveOf[m.Source] = w.Number
		}
	}
	for _, u := range users {
		want := otherWave
		if slices.Contains(group, u.UPN) {
			want = groupWave
		}
		if waveOf[u.UPN] != want {
			t.Fatalf("%s in wave %d, want %d (group %v in wave %d)", u.UPN, waveOf[u.UPN], want, group, groupWave)
		}
	}

	// The JSON schedule is the same plan.
	r = e.run("plan", "--exchange-csv-dir", exports, "--mapping", mappingFile, "--max-wave-mailboxes", "3",
		"--start", "2026-12-04T20:00:00+01:00", "--out", "", "--output", "json")
	if r.code != 0 {
		t.Fatalf("bascule plan --output json exit %d\n%s", r.code, r.stderr)
	}
	if v := jsonResult(t, r.stdout); len(v["waves"].([]any)) != 2 {
		t.Errorf("JSON plan has %d waves", len(v["waves"].([]any)))
	}

	// migrate --plan --wave: only that wave's mailboxes.
	migrate := func(extra ...string) runResult { return e.run(migrateArgsWithout(e.args(extra...))...) }
	r = migrate("--plan", planFile, "--wave", fmt.Sprint(otherWave), "--output", "json")
	if r.code != 0 {
		t.Fatalf("migrate --plan --wave %d exit %d\n%s\n%s", otherWave, r.code, r.stdout, tail(r.stderr, 4000))
	}
	res := jsonResult(t, r.stdout)
	var migrated []string
	for _, m := range res["mailboxes"].([]any) {
		migrated = append(migrated, m.(map[string]any)["address"].(string))
	}
	slices.Sort(migrated)
	var want []string
	for _, u := range users {
		if waveOf[u.UPN] == otherWave {
			want = append(want, u.UPN)
		}
	}
	slices.Sort(want)
	if !slices.Equal(migrated, want) {
		t.Fatalf("wave %d migrated %v, want %v", otherWave, migrated, want)
	}
	for _, u := range users {
		snap := e.snapshot(u.UPN)
		n := 0
		for _, f := range snap.Folders {
			n += len(f.Messages)
		}
		if waveOf[u.UPN] == otherWave {
			e.verifyUser(u, snap)
		} else if n != 0 {
			t.Errorf("%s is in wave %d but holds %d messages after wave %d", u.UPN, groupWave, n, otherWave)
		}
	}

	// A wave the plan does not have, or --plan with --all: usage errors that say why.
	if r := migrate("--plan", planFile, "--wave", "9"); r.code != 1 || !strings.Contains(r.stderr, "has no wave 9") {
		t.Errorf("--wave 9: exit %d, %s", r.code, r.stderr)
	}
	if r := e.run(e.args("--plan", planFile, "--wave", "1")...); r.code != 1 || !strings.Contains(r.stderr, "exactly one of") {
		t.Errorf("--all with --plan: exit %d, %s", r.code, r.stderr)
	}

	// The other wave, by a worker (migrate's flags, a queue of its own), completes the
	// tenant.
	wa := migrateArgsWithout(e.args("--plan", planFile, "--wave", fmt.Sprint(groupWave), "--queue", fmt.Sprintf("wave%d", groupWave),
		"--worker-id", "w1", "--poll", "100ms"))
	wa[0] = "worker"
	if r := e.run(wa...); r.code != 0 {
		t.Fatalf("worker --plan --wave %d exit %d\n%s\n%s", groupWave, r.code, r.stdout, tail(r.stderr, 4000))
	}
	e.verify()

	// A bad mapping: every bad line named, nothing written.
	bad := filepath.Join(e.dir, "bad.csv")
	writeTestFile(t, bad, "Source Email,Destination Email,Wave\r\n"+regular[0].UPN+",,\r\nnobody@contoso.example,nobody,\r\n"+shared.UPN+","+shared.UPN+",1\r\n"+regular[1].UPN+","+regular[1].UPN+",2\r\n")
	r = e.run("plan", "--exchange-csv-dir", exports, "--mapping", bad, "--out", filepath.Join(e.dir, "bad.yaml"))
	for _, want := range []string{"line 2: destination login empty", "line 3: source nobody@contoso.example is not a mailbox"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad mapping: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "bad.yaml")); err == nil {
		t.Error("a plan was written from a bad mapping")
	}
}

// TestPlanFromAudit: the report bascule audit writes is what bascule plan reads. Each
// mailbox of the plan carries the audit's items, bytes and estimate. Every delegation of
// the tenant (Graph calendar permissions, Exchange's exports) keeps its two ends in one
// wave, and every wave fits the window unless a finding says why.
func TestPlanFromAudit(t *testing.T) {
	ten := tenant.Generate(tenant.Config{Seed: 12, Users: 6, Messages: 300})
	const secret = "e2e-plan-audit"
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret})
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	t.Setenv("BASCULE_CLIENT_SECRET", secret) // e.command adds it only with a Dovecot
	dir := t.TempDir()
	e := &env{t: t, tenant: ten, sim: sim, dir: dir, caFile: filepath.Join(dir, "ca.pem"), secret: secret}
	if err := sim.WriteCAFile(e.caFile); err != nil {
		t.Fatal(err)
	}
	exports := filepath.Join(dir, "exports")
	if err := os.MkdirAll(exports, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := simcsv.Write(exports, ten); err != nil {
		t.Fatal(err)
	}
	r := e.run("audit", "--all", "--exchange-csv-dir", exports, "--output", "json",
		"--graph-endpoint", sim.GraphEndpoint(), "--authority-host", sim.AuthorityHost(),
		"--tenant-id", sim.TenantID(), "--client-id", "bascule-e2e", "--ca-file", e.caFile, "--no-progress", "--log-level", "warn")
	if r.code != 0 && r.code != 3 { // 3: blocking findings, the report is written all the same
		t.Fatalf("bascule audit exit %d\n%s", r.code, tail(r.stderr, 4000))
	}
	auditFile := filepath.Join(dir, "audit.json")
	writeTestFile(t, auditFile, r.stdout)
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}

	mapping := "Source Email,Destination Email\n"
	for _, u := range ten.Users() {
		mapping += u.UPN + "," + strings.Split(u.UPN, "@")[0] + "\n"
	}
	mappingFile := filepath.Join(dir, "users.csv")
	writeTestFile(t, mappingFile, mapping)
	r = e.run("plan", "--audit", auditFile, "--exchange-csv-dir", exports, "--mapping", mappingFile,
		"--window", "2m", "--mailbox-parallel", "1", "--start", "2026-12-04T20:00:00Z", "--out", "-", "--output", "json")
	if r.code != 0 {
		t.Fatalf("bascule plan exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var p waves.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, r.stdout)
	}
	if !p.Options.Sized || p.Totals.Mailboxes != len(ten.Users()) {
		t.Fatalf("plan: sized=%v, %d mailboxes, want sized and %d", p.Options.Sized, p.Totals.Mailboxes, len(ten.Users()))
	}
	// Sizes are the audit's.
	byAddr := map[string]audit.Mailbox{}
	for _, m := range rep.Mailboxes {
		byAddr[strings.ToLower(m.Address)] = m
	}
	waveOf := map[string]int{}
	var items int64
	for _, w := range p.Waves {
		for _, m := range w.Mailboxes {
			a := byAddr[strings.ToLower(m.Source)]
			if m.Items != a.Items || m.Bytes != a.Bytes || m.EstimateSeconds != a.Estimate.Seconds || m.Type != a.Type {
				t.Errorf("%s in the plan: %d items, %d bytes, %gs, %q; audit: %d, %d, %gs, %q", m.Source, m.Items, m.Bytes, m.EstimateSeconds, m.Type,
					a.Items, a.Bytes, a.Estimate.Seconds, a.Type)
			}
			waveOf[strings.ToLower(m.Source)] = w.Number
			items += m.Items
		}
		if w.OverWindow && !slices.ContainsFunc(p.Findings, func(f waves.Finding) bool { return f.Wave == w.Number }) {
			t.Errorf("wave %d is over the window and no finding says why", w.Number)
		}
	}
	if items != rep.Totals.Items {
		t.Errorf("plan holds %d items, the audit %d", items, rep.Totals.Items)
	}
	// Every delegation between two mailboxes of the tenant, from Graph and the exports,
	// has its two ends in the same wave.
	exp, err := exchangecsv.Load(exports)
	if err != nil {
		t.Fatal(err)
	}
	grants := exp.AllGrants()
	for _, u := range ten.Users() {
		grants = append(grants, ten.Grants(u.ID)...)
	}
	links := 0
	for _, g := range grants {
		a, b := waveOf[strings.ToLower(g.Owner)], waveOf[strings.ToLower(g.Grantee)]
		if a == 0 || b == 0 || g.Deny || g.Role == "None" || strings.EqualFold(g.Owner, g.Grantee) {
			continue
		}
		links++
		if a != b {
			t.Errorf("%s grants %s %s, but they are in waves %d and %d", g.Owner, g.Grantee, g.Role, a, b)
		}
	}
	if links == 0 {
		t.Fatal("the tenant has no delegation between its mailboxes: the test proves nothing")
	}
	t.Logf("%d mailboxes, %d links, %d waves, %d groups, %d findings", len(waveOf), links, len(p.Waves), len(p.Groups), len(p.Findings))
}

// migrateArgsWithout drops the --all of env.args (a plan's wave chooses the mailboxes).
func migrateArgsWithout(a []string) []string {
	return slices.DeleteFunc(a, func(s string) bool { return s == "--all" })
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
