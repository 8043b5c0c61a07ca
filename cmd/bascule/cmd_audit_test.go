package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/planner/audit"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

func TestAuditCommand(t *testing.T) {
	cfg := tenant.Small()
	cfg.LargeMessages = 1
	ten := tenant.Generate(cfg)
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "cli-audit", ClientSecret: "cli-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BASCULE_CLIENT_SECRET", "cli-secret")
	base := []string{"audit", "--state", filepath.Join(dir, "unused.db"), "--graph-endpoint", sim.GraphEndpoint(),
		"--authority-host", sim.AuthorityHost(), "--tenant-id", sim.TenantID(), "--client-id", "cli-audit", "--ca-file", ca, "--all"}

	// Over the target's limit: a blocking finding, exit 3; JSON on stdout, audit.json written.
	reports := filepath.Join(dir, "audit")
	code, out := run(t, append(base, "--output", "json", "--target-max-message-size", "15000000", "--report-dir", reports, "--lang", "fr")...)
	if code != exitDryRunBlock {
		t.Fatalf("exit %d, want %d (blocking finding); output:\n%s", code, exitDryRunBlock, out)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	msgs, _ := ten.Stats()
	if rep.Schema != audit.SchemaVersion || len(rep.Mailboxes) != len(ten.Users()) || rep.Totals.Kinds[audit.KindMail].Items != int64(msgs) || rep.Totals.OverLimit != 1 {
		t.Errorf("report: schema %d, %d mailboxes, %d messages, %d over limit; want %d, %d, %d, 1",
			rep.Schema, len(rep.Mailboxes), rep.Totals.Kinds[audit.KindMail].Items, rep.Totals.OverLimit, audit.SchemaVersion, len(ten.Users()), msgs)
	}
	if html, err := os.ReadFile(filepath.Join(reports, "audit.html")); err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("audit.html: %v (%d bytes, inline SVG charts expected)", err, len(html))
	}
	b, err := os.ReadFile(filepath.Join(reports, "audit.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests == 0 {
		t.Error("the report counts no request")
	}
	var again audit.Report
	if err := json.Unmarshal(b, &again); err != nil || again.Totals.Items != rep.Totals.Items {
		t.Errorf("audit.json: %v, %d items; stdout said %d", err, again.Totals.Items, rep.Totals.Items)
	}

	// No limit given: nothing blocks; text output names every mailbox and the estimate.
	code, out = run(t, base...)
	if code != exitOK {
		t.Fatalf("exit %d, want 0; output:\n%s", code, out)
	}
	for _, u := range ten.Users() {
		if !strings.Contains(out, u.UPN) {
			t.Errorf("text output lacks %s:\n%s", u.UPN, out)
		}
	}
	if !strings.Contains(out, "Estimated migration time") {
		t.Errorf("text output lacks the estimate:\n%s", out)
	}

	// The same audit through EWS (the mailboxes named): the same mail figures.
	es, err := simews.Start(simews.Options{Tenant: ten})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	eca := filepath.Join(dir, "ews-ca.pem")
	if err := es.WriteCAFile(eca); err != nil {
		t.Fatal(err)
	}
	svc, pw := es.ServiceAccount()
	t.Setenv("BASCULE_EWS_PASSWORD", pw)
	args := []string{"audit", "--state", filepath.Join(dir, "unused.db"), "--source", "ews", "--ews-url", es.EWSURL(),
		"--ews-user", svc, "--ca-file", eca, "--output", "json"}
	for _, u := range ten.Users() {
		args = append(args, "--mailbox", u.Mail)
	}
	code, out = run(t, args...)
	if code != exitOK {
		t.Fatalf("ews: exit %d; output:\n%s", code, out)
	}
	var er audit.Report
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &er); err != nil {
		t.Fatalf("ews JSON output: %v\n%s", err, out)
	}
	if er.Source != "ews" || er.Totals.Kinds[audit.KindMail] != rep.Totals.Kinds[audit.KindMail] || er.Totals.Series != rep.Totals.Series || er.Requests == 0 {
		t.Errorf("ews audit: source %q, mail %+v, series %d, %d requests; graph: mail %+v, series %d",
			er.Source, er.Totals.Kinds[audit.KindMail], er.Totals.Series, er.Requests, rep.Totals.Kinds[audit.KindMail], rep.Totals.Series)
	}

	// Usage errors say what to do.
	code, out = run(t, "audit", "--state", filepath.Join(dir, "unused.db"), "--tenant-id", "x", "--client-id", "y")
	if code != exitConfig || !strings.Contains(out, "exactly one of --all") {
		t.Errorf("no selection: exit %d, %q", code, out)
	}
	code, out = run(t, "audit", "--state", filepath.Join(dir, "unused.db"), "--source", "ews", "--ews-url", "https://x/EWS/Exchange.asmx", "--all")
	if code != exitConfig || !strings.Contains(out, "cannot list the mailboxes") {
		t.Errorf("ews --all: exit %d, %q", code, out)
	}
}
