package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const planTestdata = "../../planner/waves/testdata"

// TestPlanCommand: bascule plan on the town hall's audit and mapping writes a plan that
// migrate --plan reads back wave by wave, and prints the schedule with the findings.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "plan.yaml")
	code, text := run(t, "plan", "--audit", filepath.Join(planTestdata, "audit.json"), "--mapping", filepath.Join(planTestdata, "mapping.csv"),
		"--window", "48h", "--mailbox-parallel", "2", "--start", "2026-12-04T20:00:00+01:00", "--every", "168h", "--out", out)
	if code != 0 {
		t.Fatalf("plan exit %d:\n%s", code, text)
	}
	for _, want := range []string{
		"Plan: 4 wave(s), 12 mailbox(es), 3 delegation group(s); window 48h; 1 worker(s) × 2 mailboxes at once",
		"Fri 2026-12-04 20:00",
		"over the window",
		"[warning] the delegation group of assistante@contoso.example, directeur@contoso.example takes an estimated 55h",
		"Next: bascule migrate --plan " + out + " --wave 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// Each wave as migrate's mapping; passwords from --mapping; targets must agree.
	o := &MigrateOptions{Plan: out, Wave: 4}
	m, err := o.planMapping()
	if err != nil || len(m) != 2 || m[0].Source != "directeur@contoso.example" || m[0].Target != "directeur@mairie.example.fr" {
		t.Fatalf("planMapping() = %+v, %v", m, err)
	}
	pw := filepath.Join(dir, "passwords.csv")
	os.WriteFile(pw, []byte("source,target,password\ndirecteur@contoso.example,directeur@mairie.example.fr,s3cret\n"), 0o600)
	o.Mapping = pw
	if m, err = o.planMapping(); err != nil || m[0].Password != "s3cret" || m[1].Password != "" {
		t.Fatalf("planMapping() with passwords = %+v, %v", m, err)
	}
	os.WriteFile(pw, []byte("source,target,password\ndirecteur@contoso.example,dg@mairie.example.fr,s3cret\n"), 0o600)
	if _, err = o.planMapping(); err == nil || !strings.Contains(err.Error(), "make the plan again") {
		t.Fatalf("planMapping() with another target = %v", err)
	}
	for _, c := range []struct {
		o    MigrateOptions
		want string
	}{
		{MigrateOptions{Plan: out}, "--plan plan.yaml and --wave N"},
		{MigrateOptions{Wave: 2}, "--plan plan.yaml and --wave N"},
		{MigrateOptions{Plan: out, Wave: 5}, "has no wave 5"},
		{MigrateOptions{Plan: filepath.Join(dir, "none.yaml"), Wave: 1}, "no such file"},
	} {
		if _, err := c.o.planMapping(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("planMapping(%+v) = %v, want %q", c.o, err, c.want)
		}
	}
}

func TestPlanUsageErrors(t *testing.T) {
	audit := filepath.Join(planTestdata, "audit.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--audit", audit}, "--mapping FILE is required"},
		{[]string{"plan", "--mapping", "x.csv"}, "give --audit"},
		{[]string{"plan", "--audit", audit, "--mapping", filepath.Join(planTestdata, "bad-lines.csv"), "--out", ""}, "line 11: 3 fields where the header has 4"},
		{[]string{"plan", "--audit", audit, "--mapping", filepath.Join(planTestdata, "bad-pins.csv"), "--out", ""}, "lines 2 (accueil@contoso.example, wave 1) and 4"},
		{[]string{"plan", "--audit", audit, "--mapping", filepath.Join(planTestdata, "mapping.csv"), "--start", "demain"}, "--start \"demain\""},
		{[]string{"plan", "--audit", filepath.Join(planTestdata, "mapping.csv"), "--mapping", filepath.Join(planTestdata, "mapping.csv")}, "not an audit report"},
	} {
		code, text := run(t, c.args...)
		if code != exitConfig || !strings.Contains(text, c.want) {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", c.args, code, c.want, text)
		}
	}
}

func TestParseStart(t *testing.T) {
	now := time.Date(2026, 11, 24, 21, 17, 3, 0, time.UTC)
	if got, _ := parseStart("", now); !got.Equal(time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("parseStart(\"\") = %v, want the next full hour", got)
	}
	if got, err := parseStart("2026-12-04T20:00:00+01:00", now); err != nil || !got.Equal(time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)) {
		t.Errorf("parseStart(RFC 3339) = %v, %v", got, err)
	}
	if got, err := parseStart("2026-12-04 20:00", now); err != nil || got.Hour() != 20 || got.Location() != time.Local {
		t.Errorf("parseStart(local) = %v, %v", got, err)
	}
}

// TestPlanReportDir: --report-dir writes the plan report (HTML in the chosen language, the
// CSVs, the JSON) next to plan.yaml; a bad --lang is a usage error before any work.
func TestPlanReportDir(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "rapport")
	args := []string{"plan", "--audit", filepath.Join(planTestdata, "audit.json"), "--mapping", filepath.Join(planTestdata, "mapping.csv"),
		"--out", filepath.Join(dir, "plan.yaml"), "--report-dir", rep}
	code, text := run(t, append(args, "--lang", "fr")...)
	if code != 0 {
		t.Fatalf("plan exit %d:\n%s", code, text)
	}
	html, err := os.ReadFile(filepath.Join(rep, "plan.html"))
	if err != nil || !strings.Contains(string(html), `lang="fr"`) || !strings.Contains(string(html), "<svg") {
		t.Errorf("plan.html: %v (French, with charts: %v)", err, err == nil && strings.Contains(string(html), `lang="fr"`))
	}
	if _, err := os.Stat(filepath.Join(rep, "plan.json")); err != nil {
		t.Error(err)
	}
	if code, text := run(t, append(args, "--lang", "de")...); code != exitConfig || !strings.Contains(text, "--lang") {
		t.Errorf("--lang de: exit %d\n%s", code, text)
	}
}
