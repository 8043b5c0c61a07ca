package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/model"
)

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{&exitError{code: exitItemsFailed}, exitItemsFailed},
		{&exitError{code: exitDryRunBlock}, exitDryRunBlock},
		{fmt.Errorf("run: %w", context.Canceled), exitInterrupted},
		{model.Fatal(errors.New("bad credentials")), exitConfig},
		{errors.New("anything else"), exitConfig},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(&out, err)
	}
	return exitCode(err), out.String()
}

func TestUsageErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "s.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--state", state, "--all"}, "--tenant-id and --client-id are required"},
		{[]string{"migrate", "--state", state, "--tenant-id", "t", "--client-id", "c"}, "exactly one of --mapping"},
		{[]string{"migrate", "--state", state, "--all", "--deletes", "maybe"}, "--deletes must be keep or mirror"},
		{[]string{"migrate", "--no-such-flag"}, "unknown flag"},
		{[]string{"status", "--state", filepath.Join(dir, "absent.db")}, "no state file"},
		{[]string{"migrate", "--output", "xml", "--all"}, "--output must be text or json"},
	} {
		code, out := run(t, c.args...)
		if code != exitConfig || !strings.Contains(out, c.want) {
			t.Errorf("bascule %s: exit %d, output %q; want exit 1 mentioning %q", strings.Join(c.args, " "), code, out, c.want)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bascule.yaml")
	if err := os.WriteFile(cfg, []byte("tenant-id: from-file\nclient-id: from-file\nmailbox:\n  - a@example.org\n  - b@example.org\ndeletes: mirror\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BASCULE_CLIENT_ID", "from-env")
	root := newRootCommand()
	root.SetArgs([]string{"migrate", "--config", cfg, "--tenant-id", "from-flag"})
	mig, _, err := root.Find([]string{"migrate"})
	if err != nil {
		t.Fatal(err)
	}
	// Run only the flag loading, not the migration.
	got := map[string]string{}
	mig.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, f := range []string{"tenant-id", "client-id", "deletes"} {
			got[f], _ = cmd.Flags().GetString(f)
		}
		l, _ := cmd.Flags().GetStringSlice("mailbox")
		got["mailbox"] = strings.Join(l, ",")
		return nil
	}
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tenant-id": "from-flag", "client-id": "from-env", "deletes": "mirror", "mailbox": "a@example.org,b@example.org"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (flag > environment > config file)", k, got[k], v)
		}
	}

	// An unknown key in the config file is an error, not silently ignored.
	if err := os.WriteFile(cfg, []byte("tenant-idd: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, "migrate", "--config", cfg, "--all")
	if code != exitConfig || !strings.Contains(out, `unknown key "tenant-idd"`) {
		t.Errorf("config with a typo: exit %d, %q", code, out)
	}
}
