package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
	"github.com/bascule-migrate/bascule/reports"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := st.BeginRun(ctx, "migrate")
	st.PutMailbox(ctx, state.Mailbox{ID: "m1", Address: "anne@example.fr", Target: "anne", Status: "done"})         //nolint:errcheck
	st.PutFolder(ctx, state.Folder{Mailbox: "m1", ID: "f1", Path: "Boîte de réception", Target: "INBOX"})           //nolint:errcheck
	st.PutItems(ctx, []state.Item{{Mailbox: "m1", ID: "i1", FolderID: "f1", Status: state.StatusDone, Size: 1234}}) //nolint:errcheck
	st.FinishRun(ctx, state.Run{ID: id, Status: "done", Written: 1})                                                //nolint:errcheck
	st.Close()

	out := filepath.Join(dir, "rapports")
	code, text := run(t, "report", "--kind", "run", "--state", db, "--lang", "fr", "--dir", out, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, text)
	}
	var res struct{ Files []string }
	if err := json.Unmarshal([]byte(text), &res); err != nil || len(res.Files) < 3 {
		t.Fatalf("output %q: %v", text, err)
	}
	page, err := os.ReadFile(filepath.Join(out, "run.html"))
	if err != nil || !strings.Contains(string(page), "Rapport d’exécution") || !strings.Contains(string(page), "anne@example.fr") {
		t.Fatalf("run.html: %v", err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "run-mailboxes.csv"))
	if !strings.HasPrefix(string(csv), "\uFEFF") || !strings.Contains(string(csv), ";") {
		t.Errorf("run-mailboxes.csv is not BOM + ';' for French: %q", csv)
	}
	// The JSON written can be read back with --from.
	code, text = run(t, "report", "--kind", "run", "--from", filepath.Join(out, "run.json"), "--format", "html", "--dir", filepath.Join(dir, "again"))
	if code != 0 || !strings.Contains(text, "run.html") {
		t.Fatalf("--from run.json: exit %d: %s", code, text)
	}
	// Audit and verify from their JSON; a file of another kind is refused.
	auditJSON := filepath.Join(dir, "audit.json")
	b, _ := json.Marshal(audit.Report{Schema: audit.SchemaVersion, Source: "ews", Totals: audit.Totals{Mailboxes: 1},
		Mailboxes: []audit.Mailbox{{Address: "anne@example.fr", Type: "user", Items: 10, Bytes: 1000}}})
	os.WriteFile(auditJSON, b, 0o644) //nolint:errcheck
	verifyJSON := filepath.Join(dir, "verify.json")
	b, _ = json.Marshal(verify.Report{Schema: verify.SchemaVersion, Verdict: verify.VerdictOK,
		Mailboxes: []verify.MailboxReport{{Address: "anne@example.fr", Target: "anne"}}})
	os.WriteFile(verifyJSON, b, 0o644) //nolint:errcheck
	plan := &waves.Plan{Schema: waves.SchemaVersion, Options: waves.Options{Workers: 1, MailboxParallel: 4},
		Waves: []waves.Wave{{Number: 1, Mailboxes: []waves.Mailbox{{Source: "anne@example.fr", Target: "anne", Group: -1, Line: 2}}}}}
	planYAML := filepath.Join(dir, "plan.yaml")
	var yb bytes.Buffer
	if err := waves.WriteYAML(&yb, plan); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(planYAML, yb.Bytes(), 0o644) //nolint:errcheck
	planJSON := filepath.Join(dir, "plan.json")
	b, _ = json.Marshal(plan)
	os.WriteFile(planJSON, b, 0o644) //nolint:errcheck
	for kind, from := range map[string]string{"audit": auditJSON, "verify": verifyJSON, "plan": planYAML, "plan ": planJSON} {
		kind = strings.TrimSpace(kind)
		code, text := run(t, "report", "--kind", kind, "--from", from, "--dir", filepath.Join(dir, kind), "--lang", "fr")
		if code != 0 || !strings.Contains(text, kind+".html") {
			t.Errorf("report --kind %s: exit %d: %s", kind, code, text)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--kind", "run", "--state", db, "--lang", "de"}, "use en or fr"},
		{[]string{"report", "--kind", "run", "--state", db, "--format", "pdf"}, "use html, csv, json or all"},
		{[]string{"report", "--kind", "run", "--state", db, "--csv-sep", "|"}, "--csv-sep must be"},
		{[]string{"report", "--kind", "run", "--state", filepath.Join(dir, "none.db")}, "no state file"},
		{[]string{"report", "--kind", "nope"}, "--kind must be"},
		{[]string{"report", "--kind", "run", "--from", db}, "is not JSON"},
		{[]string{"report", "--kind", "audit", "--from", verifyJSON}, "is it the right --kind"},
		{[]string{"report", "--kind", "verify", "--from", auditJSON}, "is it the right --kind"},
		{[]string{"report", "--kind", "audit"}, "needs --from"},
		{[]string{"report", "--kind", "plan", "--from", auditJSON}, "is it the right --kind"},
		{[]string{"report", "--kind", "plan", "--from", verifyJSON + ".yaml"}, "no such file"},
	} {
		code, text := run(t, append(c.args, "--dir", filepath.Join(dir, "bad"))...)
		if code != exitConfig || !strings.Contains(text, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, text, exitConfig, c.want)
		}
	}
}

// TestReportAfterDemo writes the run report of a real migration (the demo: Graph emulator →
// IMAP server, then a delta pass) and checks it against what the demo verified on the target.
func TestReportAfterDemo(t *testing.T) {
	code, text := run(t, "demo", "--keep", "--users", "2", "--messages", "60", "--no-progress")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, text)
	}
	m := regexp.MustCompile(`State file kept at (\S+) `).FindStringSubmatch(text)
	// The demo verifies the target after the first pass and after the delta: the last count.
	vs := regexp.MustCompile(`verified: (\d+) messages on the target`).FindAllStringSubmatch(text, -1)
	if m == nil || len(vs) == 0 {
		t.Fatalf("demo output without its state file or verified count:\n%s", text)
	}
	defer os.RemoveAll(filepath.Dir(m[1]))
	dir := t.TempDir()
	code, text = run(t, "report", "--kind", "run", "--state", m[1], "--dir", dir, "--lang", "fr")
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, text)
	}
	var rep reports.RunReport
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var mail int64
	for _, k := range rep.Kinds {
		if k.Kind == "mail" {
			mail = k.Done
		}
	}
	if v := vs[len(vs)-1][1]; fmt.Sprint(mail) != v {
		t.Errorf("run report: %d messages done, the demo verified %s on the target", mail, v)
	}
	if len(rep.Runs) < 2 || rep.Totals.Failed != 0 || rep.Totals.Mailboxes == 0 || len(rep.Throughput) == 0 {
		t.Errorf("run report: %d runs, %d failed, %d mailboxes, %d throughput series", len(rep.Runs), rep.Totals.Failed, rep.Totals.Mailboxes, len(rep.Throughput))
	}
	page, _ := os.ReadFile(filepath.Join(dir, "run.html"))
	if !strings.Contains(string(page), "Toutes les boîtes aux lettres sont terminées, sans aucun échec.") {
		t.Error("run.html does not give the all-done verdict")
	}
}
