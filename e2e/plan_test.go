package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/planner/waves"
	simcsv "github.com/bascule-migrate/bascule/sim/exchangecsv"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestPlanWaves: bascule plan builds waves from Exchange's permission exports and a
// MigrationWiz-style mapping written by French Excel, keeping the shared mailbox with its
// members; bascule migrate --plan plan.yaml --wave N then migrates that wave's mailboxes
// and no other into a real Dovecot, and the other wave completes the tenant.
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
	migrate := func(extra ...string) runResult {
		a := slices.DeleteFunc(e.args(extra...), func(s string) bool { return s == "--all" })
		return e.run(a...)
	}
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

	// The other wave completes the tenant.
	if r := migrate("--plan", planFile, "--wave", fmt.Sprint(groupWave)); r.code != 0 {
		t.Fatalf("migrate --plan --wave %d exit %d\n%s\n%s", groupWave, r.code, r.stdout, tail(r.stderr, 4000))
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

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
