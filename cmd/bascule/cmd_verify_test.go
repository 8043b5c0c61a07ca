package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

func TestVerifyWindow(t *testing.T) {
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)
	o := &VerifyOptions{WindowYears: 2}
	from, to, err := o.window(now)
	if err != nil || !from.Equal(time.Date(2024, 11, 24, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2028, 11, 24, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("default window = %s – %s, %v", from, to, err)
	}
	o = &VerifyOptions{WindowYears: 2, WindowStart: "2020-01-01", WindowEnd: "2030-01-01"}
	if from, to, err = o.window(now); err != nil || from.Year() != 2020 || to.Year() != 2030 {
		t.Errorf("explicit window = %s – %s, %v", from, to, err)
	}
	for _, bad := range []VerifyOptions{{WindowYears: -1}, {WindowStart: "01/02/2020"}, {WindowEnd: "2030"},
		{WindowStart: "2030-01-01", WindowEnd: "2020-01-01"}} {
		if _, _, err := bad.window(now); err == nil {
			t.Errorf("window(%+v) = nil error", bad)
		}
	}
}

// Configuration errors exit 1 and say what to do, before anything is read.
func TestVerifyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.db")
	empty := filepath.Join(dir, "empty.db")
	st, err := sqlite.Open(context.Background(), empty)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	withMailbox := filepath.Join(dir, "one.db")
	st, err = sqlite.Open(context.Background(), withMailbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutMailbox(context.Background(), state.Mailbox{ID: "u1", Address: "alice@contoso.example", Target: "alice"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--state", missing}, "no state file at"},
		{[]string{"verify", "--state", empty}, "knows no mailbox: run migrate first"},
		{[]string{"verify", "--state", withMailbox, "--sample", "-1"}, "--sample must be"},
		{[]string{"verify", "--state", withMailbox, "--window-start", "2030-01-01", "--window-end", "2020-01-01"}, "window is empty"},
		{[]string{"verify", "--state", withMailbox, "--kinds", "calendar"}, "need a CalDAV/CardDAV target: add --dav-url"},
		{[]string{"verify", "--state", withMailbox}, "--tenant-id and --client-id are required"},
	} {
		code, out := run(t, c.args...)
		if code != exitConfig || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", c.args, code, out, exitConfig, c.want)
		}
	}
}

// One config file serves migrate and verify: migrate's own keys are accepted (and ignored).
func TestVerifySharesMigrateConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wave1.yaml")
	if err := os.WriteFile(cfg, []byte("deletes: mirror\nitem-parallel: 8\nspool-dir: /tmp\nfolder-language: fr\nimap-addr: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, "verify", "--config", cfg, "--state", filepath.Join(dir, "none.db"))
	if code != exitConfig || !strings.Contains(out, "no state file at") {
		t.Errorf("verify with migrate's config: exit %d, %q; want the config read and exit 1 for the missing state", code, out)
	}
	code, out = run(t, "verify", "--help")
	if code != exitOK || strings.Contains(out, "--deletes") || !strings.Contains(out, "--sample") {
		t.Errorf("verify --help shows migrate's hidden flags or lacks its own:\n%s", out)
	}
}
