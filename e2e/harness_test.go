// Package e2e holds the acceptance tests of the whole pipeline: the bascule binary, driven as
// an integrator drives it, from the project's Graph emulator (sim/graph) into a real Dovecot
// started by scripts/dovecot.sh. Nothing here is mocked.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/internal/testenv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/bascule once per test process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bascule-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "bascule")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/bascule")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// env is one source tenant behind the emulator and one real Dovecot target.
type env struct {
	t       testing.TB
	tenant  *tenant.Tenant
	sim     *simgraph.Server
	dovecot *testenv.DovecotServer
	dir     string
	caFile  string
	state   string
	secret  string
}

type envOptions struct {
	tenant   tenant.Config
	throttle simgraph.Throttle
	faults   simgraph.Faults
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ten := tenant.Generate(o.tenant)
	secret := "e2e-secret-" + fmt.Sprint(o.tenant.Seed)
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret,
		Throttle: o.throttle, Faults: o.faults})
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	var logins []string
	for _, u := range ten.Users() {
		logins = append(logins, u.UPN)
	}
	dc := testenv.Dovecot(t, logins...)
	dir := t.TempDir()
	e := &env{t: t, tenant: ten, sim: sim, dovecot: dc, dir: dir, caFile: filepath.Join(dir, "ca.pem"),
		state: filepath.Join(dir, "state.db"), secret: secret}
	if err := sim.WriteCAFile(e.caFile); err != nil {
		t.Fatal(err)
	}
	return e
}

// args are the flags of a migrate against this env.
func (e *env) args(extra ...string) []string {
	a := []string{"migrate", "--all", "--state", e.state,
		"--graph-endpoint", e.sim.GraphEndpoint(), "--authority-host", e.sim.AuthorityHost(),
		"--tenant-id", e.sim.TenantID(), "--client-id", "bascule-e2e", "--ca-file", e.caFile,
		"--imap-addr", e.dovecot.Addr, "--imap-tls", "none", "--imap-auth", "master",
		"--imap-admin-user", e.dovecot.MasterUser, "--no-progress", "--log-level", "warn"}
	return append(a, extra...)
}

func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary(e.t), args...)
	cmd.Env = os.Environ()
	if e.dovecot != nil {
		cmd.Env = append(cmd.Env, "BASCULE_CLIENT_SECRET="+e.secret, "BASCULE_IMAP_ADMIN_PASSWORD="+e.dovecot.MasterPass)
	}
	return cmd
}

type runResult struct {
	code   int
	stdout string
	stderr string
}

// run runs bascule to its end.
func (e *env) run(args ...string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running bascule: %v", err)
	}
	return runResult{code: code, stdout: so.String(), stderr: se.String()}
}

// migrate runs a migration that must succeed.
func (e *env) migrate(extra ...string) runResult {
	e.t.Helper()
	r := e.run(e.args(extra...)...)
	if r.code != 0 {
		e.t.Fatalf("bascule migrate exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 4000))
	}
	return r
}

// verify asserts that every target account holds exactly its source mailbox: every message
// byte-identical (SHA-256 of BODY.PEEK[]), none missing, none twice, flags and INTERNALDATE
// kept, each in the folder that carries its source folder's name.
func (e *env) verify() {
	e.t.Helper()
	total := 0
	for _, u := range e.tenant.Users() {
		snap := e.snapshot(u.UPN)
		total += e.verifyUser(u, snap)
	}
	if total == 0 {
		e.t.Fatal("verify: no message at all on the target")
	}
}

func (e *env) snapshot(login string) *imapcheck.Snapshot {
	e.t.Helper()
	c, err := imapcheck.Dial(e.dovecot.Addr, login+"*"+e.dovecot.MasterUser, e.dovecot.MasterPass)
	if err != nil {
		e.t.Fatalf("reading target %s: %v", login, err)
	}
	defer c.Close()
	snap, err := imapcheck.Take(c)
	if err != nil {
		e.t.Fatalf("reading target %s: %v", login, err)
	}
	return snap
}

func (e *env) verifyUser(u tenant.User, snap *imapcheck.Snapshot) int {
	e.t.Helper()
	folders := map[string]tenant.Folder{}
	for _, f := range e.tenant.Folders(u.ID) {
		folders[f.ID] = f
	}
	// Target messages by hash, with their folder.
	type placed struct {
		folder string
		msg    imapcheck.Message
	}
	byHash := map[string][]placed{}
	attrs := map[string][]imap.MailboxAttr{}
	n := 0
	for _, f := range snap.Folders {
		attrs[f.Name] = f.Attrs
		for _, m := range f.Messages {
			byHash[m.SHA256] = append(byHash[m.SHA256], placed{f.Name, m})
			n++
		}
	}
	src := e.tenant.Messages(u.ID)
	if n != len(src) {
		e.t.Errorf("%s: target holds %d messages, source %d", u.UPN, n, len(src))
	}
	for _, m := range src {
		cands := byHash[m.SHA256]
		if len(cands) == 0 {
			e.t.Errorf("%s: message %q (%s) missing or altered on the target", u.UPN, m.Subject, m.ID)
			continue
		}
		// Take the candidate in the right folder (identical bytes may exist in several).
		name := folders[m.FolderID].DisplayName
		idx := -1
		for i, c := range cands {
			if folderMatches(c.folder, attrs[c.folder], name, folders[m.FolderID].WellKnown) {
				idx = i
				break
			}
		}
		if idx < 0 {
			e.t.Errorf("%s: message %q is in %q, expected a folder named like %q", u.UPN, m.Subject, cands[0].folder, name)
			idx = 0
		}
		got := cands[idx].msg
		byHash[m.SHA256] = append(cands[:idx], cands[idx+1:]...)
		if got.Has(imap.FlagSeen) != m.IsRead {
			e.t.Errorf("%s: %q \\Seen=%v, source isRead=%v", u.UPN, m.Subject, got.Has(imap.FlagSeen), m.IsRead)
		}
		if got.Has(imap.FlagFlagged) != (m.Flag == "flagged") {
			e.t.Errorf("%s: %q \\Flagged=%v, source flag=%s", u.UPN, m.Subject, got.Has(imap.FlagFlagged), m.Flag)
		}
		if got.Has(imap.FlagDraft) != m.IsDraft {
			e.t.Errorf("%s: %q \\Draft=%v, source isDraft=%v", u.UPN, m.Subject, got.Has(imap.FlagDraft), m.IsDraft)
		}
		answered := m.LastVerb == 102 || m.LastVerb == 103 || m.LastVerb == 104
		if got.Has(imap.FlagAnswered) != answered {
			e.t.Errorf("%s: %q \\Answered=%v, source last verb=%d", u.UPN, m.Subject, got.Has(imap.FlagAnswered), m.LastVerb)
		}
		if !got.InternalDate.Equal(m.Received.Truncate(time.Second)) {
			e.t.Errorf("%s: %q INTERNALDATE %v, source received %v", u.UPN, m.Subject, got.InternalDate, m.Received)
		}
	}
	return n
}

// folderMatches tells whether a target mailbox name is the one made for a source folder.
func folderMatches(target string, attrs []imap.MailboxAttr, display, wellKnown string) bool {
	special := map[string]imap.MailboxAttr{"sentitems": imap.MailboxAttrSent, "drafts": imap.MailboxAttrDrafts,
		"deleteditems": imap.MailboxAttrTrash, "junkemail": imap.MailboxAttrJunk, "archive": imap.MailboxAttrArchive}
	switch {
	case wellKnown == "inbox":
		return target == "INBOX"
	case special[wellKnown] != "":
		for _, a := range attrs {
			if a == special[wellKnown] {
				return true
			}
		}
		return false
	case wellKnown != "":
		return !strings.Contains(target, "/") // other well-known folders live at the top level
	}
	last := target
	if i := strings.LastIndex(target, "/"); i >= 0 {
		last = target[i+1:]
	}
	return last == strings.ReplaceAll(display, "/", "∕")
}

// jsonResult decodes a --output json result.
func jsonResult(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON output: %v\n%s", err, s)
	}
	return v
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
