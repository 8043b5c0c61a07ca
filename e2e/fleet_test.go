package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/postgres"
)

// TestFleet: three `bascule worker` processes share a 30-mailbox migration through a real
// PostgreSQL; one is killed -9 while it holds a lease on a mailbox it has started; the two
// others take that mailbox over when its lease expires and finish the migration. Every
// target mailbox then holds exactly its source's messages (SHA-256, flags, dates), none twice.
func TestFleet(t *testing.T) {
	pg := testenv.Postgres(t)
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 70, Users: 29, Messages: 900, MaxAttachment: 32 << 10}})
	if n := len(e.tenant.Users()); n != 30 {
		t.Fatalf("tenant has %d mailboxes, want 30", n)
	}
	// The DSN without its password: workers read it from PGPASSWORD, as documented.
	u, err := url.Parse(pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	withPW := u.String()
	u.User = url.User("postgres")
	e.state = u.String()

	ctx := context.Background()
	store, err := postgres.Open(ctx, withPW)
	if err != nil {
		t.Fatalf("postgres.Open() = %v", err)
	}
	defer store.Close()

	type worker struct {
		name   string
		cmd    *exec.Cmd
		out    bytes.Buffer
		errb   bytes.Buffer
		done   chan error
		killed bool
	}
	start := func(name string) *worker {
		w := &worker{name: name, done: make(chan error, 1)}
		args := e.args("--worker-id", name, "--lease-ttl", "3s", "--heartbeat", "300ms", "--poll", "200ms",
			"--mailbox-parallel", "2", "--log-level", "info")
		args[0] = "worker"
		w.cmd = e.command(ctx, args...)
		w.cmd.Env = append(w.cmd.Env, "PGPASSWORD="+pg.Password)
		w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.errb
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { w.done <- w.cmd.Wait() }()
		return w
	}
	workers := []*worker{start("w1"), start("w2"), start("w3")}
	victim := workers[0]

	// Kill w1 once it holds a lease on a mailbox with at least one message done.
	var killedOn state.Lease
	deadline := time.Now().Add(2 * time.Minute)
poll:
	for {
		if time.Now().After(deadline) {
			t.Fatal("w1 never held a started mailbox")
		}
		select {
		case err := <-victim.done:
			t.Fatalf("w1 ended (%v) before it could be killed mid-mailbox\n%s", err, tail(victim.errb.String(), 3000))
		default:
		}
		ls, err := store.Leases(ctx, "migrate")
		if err != nil {
			t.Fatalf("Leases() = %v", err)
		}
		for _, l := range ls {
			if l.Worker != "w1" || l.Status != state.LeaseLeased {
				continue
			}
			c, err := store.Counts(ctx, l.Mailbox)
			if err != nil {
				t.Fatalf("Counts() = %v", err)
			}
			if c.Items[state.StatusDone] >= 1 {
				_ = victim.cmd.Process.Signal(syscall.SIGKILL)
				victim.killed = true
				killedOn = l
				<-victim.done
				t.Logf("killed w1 -9 on %s (%d items done)", l.Address, c.Items[state.StatusDone])
				break poll
			}
		}
		time.Sleep(2 * time.Millisecond)
	}

	for _, w := range workers[1:] {
		select {
		case err := <-w.done:
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if err != nil {
				t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", w.name, err, w.out.String(), tail(w.errb.String(), 4000))
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("%s did not finish", w.name)
		}
	}

	ls, err := store.Leases(ctx, "migrate")
	if err != nil {
		t.Fatalf("Leases() = %v", err)
	}
	if len(ls) != 30 {
		t.Errorf("queue holds %d mailboxes, want 30", len(ls))
	}
	byWorker := map[string]int{}
	for _, l := range ls {
		if l.Status != state.LeaseDone {
			t.Errorf("mailbox %s: lease %s (%s), want done", l.Address, l.Status, l.Error)
		}
		byWorker[l.Worker]++
		if l.Mailbox == killedOn.Mailbox {
			if l.Worker == "w1" || l.Attempts < 2 {
				t.Errorf("the killed worker's mailbox %s: last worker %s after %d attempts; want taken over by w2 or w3", l.Address, l.Worker, l.Attempts)
			}
		}
	}
	t.Logf("mailboxes finished by worker: %v", byWorker)
	if byWorker["w2"] == 0 || byWorker["w3"] == 0 {
		t.Errorf("work was not shared: %v", byWorker)
	}
	e.verify()

	// Status reads the shared store: every worker is listed.
	st := e.run("status", "--state", withPW, "--output", "json")
	if st.code != 0 {
		t.Fatalf("status exit %d: %s", st.code, st.stderr)
	}
	if strings.Contains(st.stdout, pg.Password) || strings.Contains(st.stderr, pg.Password) {
		t.Errorf("status printed the database password:\n%s", st.stdout)
	}
	v := jsonResult(t, st.stdout)
	seen := map[string]float64{}
	for _, x := range v["workers"].([]any) {
		w := x.(map[string]any)
		seen[w["worker"].(string)] = w["mailboxes_done"].(float64)
	}
	for _, name := range []string{"w1", "w2", "w3"} {
		if _, ok := seen[name]; !ok && name != "w1" {
			t.Errorf("status lists no worker %s: %v", name, seen)
		}
	}
	if q := v["queues"].([]any)[0].(map[string]any); q["done"].(float64) != 30 || q["pending"].(float64) != 0 {
		t.Errorf("status queue = %v, want 30 done", q)
	}
	txt := e.run("status", "--state", withPW)
	if !strings.Contains(txt.stdout, "WORKER") || !strings.Contains(txt.stdout, "w2") || strings.Contains(txt.stdout, pg.Password) {
		t.Errorf("status text:\n%s", txt.stdout)
	}
	for _, w := range workers {
		if bytes.Contains(w.out.Bytes(), []byte(pg.Password)) || bytes.Contains(w.errb.Bytes(), []byte(pg.Password)) {
			t.Errorf("%s printed the database password", w.name)
		}
	}
}
