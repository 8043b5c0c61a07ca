package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestMigrateExact is the first acceptance criterion: 3 mailboxes (2 users and a shared one),
// more than 2,000 messages including 20–30 MB ones, nested and non-ASCII folders, arrive in
// Dovecot byte-identical, with flags, INTERNALDATE and folder tree; a rerun changes nothing.
func TestMigrateExact(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 2, Users: 2, Messages: 2050, LargeMessages: 2}})
	if n, _ := e.tenant.Stats(); n < 2000 {
		t.Fatalf("tenant has %d messages, want >= 2000", n)
	}
	if len(e.tenant.Users()) != 3 {
		t.Fatalf("tenant has %d mailboxes, want 3", len(e.tenant.Users()))
	}
	var large int
	for _, u := range e.tenant.Users() {
		for _, m := range e.tenant.Messages(u.ID) {
			if m.Size >= 20<<20 {
				large++
			}
		}
	}
	if large < 2 {
		t.Fatalf("tenant has %d messages of 20 MB or more, want 2", large)
	}
	r := e.migrate("--output", "json")
	res := jsonResult(t, r.stdout)
	if res["verdict"] != "ok" {
		t.Fatalf("verdict %v", res["verdict"])
	}
	e.verify()

	// A rerun with nothing new is a cheap delta pass: no body is fetched again.
	e.sim.ResetCounts()
	e.migrate()
	if n := e.sim.Counts()["message.value"]; n != 0 {
		t.Errorf("a rerun with no change fetched %d message bodies, want 0", n)
	}
	if n := e.sim.Counts()["messages"]; n != 0 {
		t.Errorf("a rerun listed messages in full %d times, want only delta requests", n)
	}
	e.verify()
}

// TestKillResume kills the process with SIGKILL at random moments — during start-up and
// folder creation, and after a random number of message bodies were fetched — reruns each
// time, and checks that the target ends with exactly the source's messages, none twice.
func TestKillResume(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 3, Users: 2, Messages: 1500}})
	rng := rand.New(rand.NewPCG(3, 42))
	kills := 0
	for i := 0; i < 14; i++ {
		e.sim.ResetCounts()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := e.command(ctx, e.args()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var trigger <-chan time.Time
		threshold := int64(1 + rng.IntN(120))
		if i%4 == 0 {
			trigger = time.After(time.Duration(10+rng.IntN(200)) * time.Millisecond) // start-up
		}
		tick := time.NewTicker(2 * time.Millisecond)
	wait:
		for {
			select {
			case <-trigger:
				break wait
			case <-tick.C:
				if e.sim.Counts()["message.value"] >= threshold {
					break wait
				}
			case <-done:
				tick.Stop()
				cancel()
				t.Logf("run %d finished before its kill point", i)
				goto next
			}
		}
		tick.Stop()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cancel()
		kills++
	next:
	}
	if kills < 10 {
		t.Fatalf("only %d kills happened before the run completed; the test needs at least 10", kills)
	}
	t.Logf("%d kill -9 points", kills)
	e.migrate()
	e.verify()
}

// TestDelta changes the source after a first pass: 10 messages read, 5 new, 3 deleted. The
// next run fetches only the 5 new bodies and the target matches (deletions mirrored).
func TestDelta(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 4, Users: 2, Messages: 300}})
	e.migrate()
	e.verify()

	users := e.tenant.Users()
	u := users[0]
	msgs := e.tenant.Messages(u.ID)
	changed := 0
	for _, m := range msgs {
		if changed == 10 {
			break
		}
		if !m.IsRead {
			if err := e.tenant.SetRead(u.ID, m.ID, true); err != nil {
				t.Fatal(err)
			}
			changed++
		}
	}
	if changed != 10 {
		t.Fatalf("only %d unread messages to mark read", changed)
	}
	for i := range 5 {
		if _, err := e.tenant.AddMessage(users[i%len(users)].ID, msgs[i*7].FolderID); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := e.tenant.DeleteMessage(u.ID, msgs[len(msgs)-1-i].ID); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.ResetCounts()
	reportDir := filepath.Join(e.dir, "rapport")
	r := e.migrate("--deletes", "mirror", "--output", "json", "--report-dir", reportDir, "--lang", "fr")
	counts := e.sim.Counts()
	if counts["message.value"] != 5 {
		t.Errorf("delta fetched %d bodies, want exactly the 5 new ones (counts %v)", counts["message.value"], counts)
	}
	if counts["messages"] != 0 || counts["message"] != 0 {
		t.Errorf("delta listed or read messages one by one: %v", counts)
	}
	tot := jsonResult(t, r.stdout)["totals"].(map[string]any)
	if tot["written"].(float64) != 5 || tot["updated"].(float64) != 10 || tot["deleted"].(float64) != 3 {
		t.Errorf("delta totals = %v, want written 5, updated 10, deleted 3", tot)
	}
	e.verify()

	// --report-dir wrote the run report of both passes: the newest run is this delta.
	var rep struct {
		Runs []struct {
			Command                   string
			Written, Updated, Deleted float64
		}
	}
	b, err := os.ReadFile(filepath.Join(reportDir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Written != 5 || rep.Runs[0].Updated != 10 || rep.Runs[0].Deleted != 3 {
		t.Errorf("run.json runs = %+v, want 2 runs, the newest writing 5, updating 10, deleting 3", rep.Runs)
	}
	html, err := os.ReadFile(filepath.Join(reportDir, "run.html"))
	if err != nil || !strings.Contains(string(html), `lang="fr"`) {
		t.Errorf("run.html: %v (French: %v)", err, strings.Contains(string(html), `lang="fr"`))
	}
}

// TestDeltaInterrupted interrupts delta passes in the middle of a page (SIGINT, then
// SIGKILL); the delta token is stored only once every item it covers is written, so the
// rerun leaves nothing of that page missing.
func TestDeltaInterrupted(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 5, Users: 2, Messages: 100}})
	e.migrate()
	u := e.tenant.Users()[0]
	inbox := ""
	for _, f := range e.tenant.Folders(u.ID) {
		if f.WellKnown == "inbox" {
			inbox = f.ID
		}
	}
	for range 350 { // several delta pages of 100
		if _, err := e.tenant.AddMessage(u.ID, inbox); err != nil {
			t.Fatal(err)
		}
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGKILL} {
		e.sim.ResetCounts()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := e.command(ctx, e.args()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the run has written part of the new messages, then stop it.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if e.sim.Counts()["message.value"] >= 40 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = cmd.Process.Signal(sig)
		err := cmd.Wait()
		cancel()
		if sig == os.Interrupt {
			if code := cmd.ProcessState.ExitCode(); code != 4 {
				t.Errorf("SIGINT: exit code %d (%v), want 4 (interrupted)", code, err)
			}
		}
	}
	e.migrate()
	e.verify()
}

// TestThrottling runs against tight emulator limits: the run completes, honours every
// Retry-After, and trips the limit rarely.
func TestThrottling(t *testing.T) {
	e := newEnv(t, envOptions{
		tenant:   tenant.Config{Seed: 6, Users: 2, Messages: 150},
		throttle: simgraph.Throttle{Concurrency: 4, Requests: 40, Window: 4 * time.Second},
	})
	e.migrate()
	e.verify()
	total := int64(0)
	for _, n := range e.sim.Counts() {
		total += n
	}
	t.Logf("requests %d, 429s %d, Retry-After violations %d", total, e.sim.Throttled(), e.sim.RetryAfterViolations())
	if v := e.sim.RetryAfterViolations(); v != 0 {
		t.Errorf("%d requests ignored a Retry-After", v)
	}
	if e.sim.Throttled() == 0 {
		t.Errorf("the limits were never reached: the test does not exercise throttling")
	}
	if th := e.sim.Throttled(); th*20 > total {
		t.Errorf("%d of %d requests were throttled (more than 5%%)", th, total)
	}
}

// TestFaults injects 503s, 504s, truncated bodies and dropped connections: no message ends
// corrupt or missing.
func TestFaults(t *testing.T) {
	e := newEnv(t, envOptions{
		tenant: tenant.Config{Seed: 7, Users: 2, Messages: 300},
		faults: simgraph.Faults{Seed: 7, Rate503: 0.04, Rate504: 0.02, RateTruncate: 0.05, RateDrop: 0.03},
	})
	r := e.run(e.args()...)
	if r.code != 0 && r.code != 2 {
		t.Fatalf("exit %d: %s", r.code, tail(r.stderr, 3000))
	}
	if r.code == 2 {
		// Items that ran out of attempts are recorded as failed and retried by the next run.
		e.sim.SetFaults(simgraph.Faults{})
		e.migrate()
	}
	e.verify()
}

// TestBadInput: a malformed message travels byte-exact; a message the target refuses is
// recorded as failed with the server's reason, the exit code and JSON say so, and nothing
// else is lost.
func TestBadInput(t *testing.T) {
	// The target refuses messages over 2 MiB (Dovecot quota_max_mail_size).
	t.Setenv("DOVECOT_MAX_MAIL_SIZE", "2M")
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 8, Users: 2, Messages: 60}})
	u := e.tenant.Users()[0]
	inbox := ""
	for _, f := range e.tenant.Folders(u.ID) {
		if f.WellKnown == "inbox" {
			inbox = f.ID
		}
	}
	malformed := "From: =?utf-8?B?broken\r\nTo: undisclosed-recipients:;\r\nSubject: caf\xe9 sans encodage\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain; charset=unknown-8bit\r\n\r\n\xff\xfe corps\r\n--zz\r\n"
	if _, err := e.tenant.AddRawMessage(u.ID, inbox, []byte(malformed), time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	// Larger than the target accepts: refused by the server with its own reason.
	big := "From: a@b.example\r\nSubject: too big\r\n\r\n" + strings.Repeat("x", 3<<20) + "\r\n"
	if _, err := e.tenant.AddRawMessage(u.ID, inbox, []byte(big), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	r := e.run(e.args("--output", "json")...)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (items failed)\n%s", r.code, tail(r.stderr, 2000))
	}
	res := jsonResult(t, r.stdout)
	fails := res["failures"].([]any)
	if len(fails) != 1 || !strings.Contains(fails[0].(map[string]any)["reason"].(string), "size") {
		t.Fatalf("failures = %v, want the one oversized message with the server's reason", fails)
	}
	// Everything but the refused message is there, byte-exact (the malformed one included).
	snap := e.snapshot(u.UPN)
	want := 0
	for _, m := range e.tenant.Messages(u.ID) {
		if m.Subject != "too big" {
			want++
			if snap.Hashes()[m.SHA256] == 0 {
				t.Errorf("message %q missing or altered", m.Subject)
			}
		}
	}
	if snap.Count() != want {
		t.Errorf("target has %d messages, want %d", snap.Count(), want)
	}
}

// TestDryRun plans without writing: the JSON verdict counts what would move, the target and
// the state stay empty, and an unknown mailbox is a blocking problem (exit 3).
func TestDryRun(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 9, Users: 2, Messages: 80}})
	r := e.run(e.args("--dry-run", "--output", "json")...)
	if r.code != 0 {
		t.Fatalf("dry-run exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	res := jsonResult(t, r.stdout)
	n, _ := e.tenant.Stats()
	if got := res["totals"].(map[string]any)["planned"].(float64); int(got) != n {
		t.Errorf("dry-run plans %v messages, tenant has %d", got, n)
	}
	if e.sim.Counts()["message.value"] != 0 {
		t.Errorf("dry-run fetched message bodies")
	}
	for _, u := range e.tenant.Users() {
		if c := e.snapshot(u.UPN).Count(); c != 0 {
			t.Errorf("dry-run wrote %d messages to %s", c, u.UPN)
		}
	}
	// The state file holds no progress: a real run afterwards moves everything.
	e.migrate()
	e.verify()

	args := e.args("--dry-run", "--output", "json")
	for i, a := range args {
		if a == "--all" {
			args[i] = "--mailbox=nobody@contoso.example"
		}
	}
	r = e.run(args...)
	if r.code != 3 {
		t.Fatalf("dry-run with an unknown mailbox: exit %d, want 3\n%s", r.code, r.stdout)
	}
}

// TestDemo runs `bascule demo` as a new user would.
func TestDemo(t *testing.T) {
	e := &env{t: t}
	r := e.run("demo", "--no-progress")
	if r.code != 0 {
		t.Fatalf("bascule demo exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 3000))
	}
	if !strings.Contains(r.stdout, "byte-identical") {
		t.Errorf("demo output does not report the verification:\n%s", r.stdout)
	}
}
