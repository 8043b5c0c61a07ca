package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/internal/testenv"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/postgres"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

// TestFleet: three `bascule worker` processes share a 30-mailbox migration through a real
// PostgreSQL; one is killed -9 while it holds a lease on a mailbox it has started; the two
// others take that mailbox over when its lease expires and finish the migration. Every
// target mailbox then holds exactly its source's messages (SHA-256, flags, dates), none twice.
func TestFleet(t *testing.T) {
	pg := testenv.Postgres(t)
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 70, Users: 29, Messages: 360, MaxAttachment: 32 << 10}})
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
	began := time.Now()
	workers := []*worker{start("w1"), start("w2"), start("w3")}
	victim := workers[0]

	// Kill w1 once it holds a lease on a mailbox with at least one message done.
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
				<-victim.done
				t.Logf("killed w1 -9 while it held %s (%d items done)", l.Address, c.Items[state.StatusDone])
				break poll
			}
		}
		time.Sleep(2 * time.Millisecond)
	}

	// What w1 held when it died (a mailbox may have ended between the check and the kill).
	orphans := map[string]state.Lease{}
	if ls, err := store.Leases(ctx, "migrate"); err == nil {
		for _, l := range ls {
			if l.Worker == "w1" && l.Status == state.LeaseLeased {
				orphans[l.Mailbox] = l
			}
		}
	}
	if len(orphans) == 0 {
		t.Fatal("w1 held no lease when it was killed")
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
		if o, ok := orphans[l.Mailbox]; ok {
			if l.Worker == "w1" || l.Attempts <= o.Attempts || l.Token <= o.Token {
				t.Errorf("the killed worker's mailbox %s: last worker %s after %d attempts; want taken over by w2 or w3", l.Address, l.Worker, l.Attempts)
			}
		} else if l.Attempts != 1 {
			// The live workers' heartbeats kept their leases: nothing else changed hands.
			t.Errorf("mailbox %s was leased %d times (last by %s); only w1's should have been taken over", l.Address, l.Attempts, l.Worker)
		}
	}
	t.Logf("mailboxes finished by worker: %v; the fleet took %v", byWorker, time.Since(began).Round(time.Millisecond))
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

// TestMetrics scrapes --metrics-addr during a throttled run against sim/graph and Dovecot,
// and once it has ended (--metrics-linger): the item, byte, mailbox and throttling counters
// equal the run's own result and the emulator's count of 429s.
func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{
		tenant:   tenant.Config{Seed: 71, Users: 3, Messages: 240, MaxAttachment: 32 << 10},
		throttle: simgraph.Throttle{Concurrency: 4, Requests: 60, Window: 3 * time.Second},
	})
	res, m := runWithMetrics(t, func(ctx context.Context, extra ...string) *exec.Cmd {
		return e.command(ctx, e.args(extra...)...)
	})
	checkItemMetrics(t, res, m)
	th := e.sim.Throttled()
	if th == 0 {
		t.Errorf("the emulator never throttled: the test does not exercise the throttling counter")
	}
	if got := m.sum("bascule_source_throttled_total", map[string]string{"source": "graph", "reason": "429"}); got != float64(th) {
		t.Errorf("bascule_source_throttled_total{reason=429} = %v, the emulator sent %d", got, th)
	}
	if got := m.sum("bascule_source_requests_total", nil); got <= 0 {
		t.Errorf("bascule_source_requests_total = %v", got)
	}
	t.Logf("written %d, bytes %d, 429s %d", res.Totals.Written, res.Totals.Bytes, th)
}

// TestMetricsEWS: the same over EWS (sim/ews) with a request budget that answers
// ErrorServerBusy: the throttling counters equal the emulator's count of refusals.
func TestMetricsEWS(t *testing.T) {
	e := newEWSEnv(t, tenant.Config{Seed: 73, Users: 2, Messages: 150, MaxAttachment: 32 << 10},
		simews.Options{Throttle: simews.Throttle{Requests: 40, Window: 2 * time.Second}})
	res, m := runWithMetrics(t, func(ctx context.Context, extra ...string) *exec.Cmd {
		return e.command(ctx, e.args(extra...)...)
	})
	checkItemMetrics(t, res, m)
	th := e.ews.Throttled()
	if th == 0 {
		t.Errorf("the emulator never throttled: the test does not exercise the throttling counter")
	}
	got := m.sum("bascule_source_throttled_total", map[string]string{"source": "ews", "reason": "server_busy"}) +
		m.sum("bascule_source_throttled_total", map[string]string{"source": "ews", "reason": "connection_count"})
	if got != float64(th) {
		t.Errorf("bascule_source_throttled_total{source=ews} = %v, the emulator refused %d", got, th)
	}
	t.Logf("written %d, bytes %d, ServerBusy/connection-count refusals %d", res.Totals.Written, res.Totals.Bytes, th)
}

// metricsResult is the part of a --output json result the metrics tests compare.
type metricsResult struct {
	Verdict   string `json:"verdict"`
	Mailboxes []any  `json:"mailboxes"`
	Totals    struct {
		Written, Recovered, Updated, Deleted, Skipped, Failed, Bytes int64
	} `json:"totals"`
}

// runWithMetrics runs the command start makes (with the extra flags it is given) serving
// --metrics-addr, scrapes it during the run (some scrape must show a running mailbox's
// progress) and once the result is printed (the process lingers), then stops it.
func runWithMetrics(t *testing.T, start func(ctx context.Context, extra ...string) *exec.Cmd) (metricsResult, scraped) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := start(ctx, "--metrics-addr", addr, "--metrics-linger", "5m", "--output", "json")
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}()
	sawProgress := false
	for !json.Valid(out.Bytes()) || out.Len() == 0 {
		select {
		case err := <-done:
			t.Fatalf("bascule ended (%v) before lingering\n%s", err, tail(errb.String(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if m, err := scrape(addr); err == nil && m.sum("bascule_mailbox_items_processed", nil) > 0 {
			sawProgress = true
		}
	}
	if !sawProgress {
		t.Errorf("no scrape during the run showed a running mailbox's progress")
	}
	var res metricsResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result: %v\n%s", err, out.String())
	}
	if res.Verdict != "ok" || res.Totals.Written == 0 {
		t.Fatalf("run verdict %s, written %d\n%s", res.Verdict, res.Totals.Written, tail(errb.String(), 3000))
	}
	m, err := scrape(addr)
	if err != nil {
		t.Fatalf("scrape after the run: %v", err)
	}
	return res, m
}

// checkItemMetrics compares the item, byte and mailbox counters with the run's result.
func checkItemMetrics(t *testing.T, res metricsResult, m scraped) {
	t.Helper()
	for outcome, want := range map[string]int64{"written": res.Totals.Written, "recovered": res.Totals.Recovered,
		"updated": res.Totals.Updated, "deleted": res.Totals.Deleted, "skipped": res.Totals.Skipped, "failed": res.Totals.Failed} {
		if got := m.sum("bascule_items_total", map[string]string{"outcome": outcome}); got != float64(want) {
			t.Errorf("bascule_items_total{outcome=%q} = %v, the result says %d", outcome, got, want)
		}
	}
	if got := m.sum("bascule_items_total", map[string]string{"kind": "mail", "outcome": "written"}); got != float64(res.Totals.Written) {
		t.Errorf("mail written = %v, want %d", got, res.Totals.Written)
	}
	if got := m.sum("bascule_bytes_written_total", nil); got != float64(res.Totals.Bytes) {
		t.Errorf("bascule_bytes_written_total = %v, the result says %d", got, res.Totals.Bytes)
	}
	if got := m.sum("bascule_mailboxes_total", map[string]string{"status": "done"}); got != float64(len(res.Mailboxes)) {
		t.Errorf("bascule_mailboxes_total{status=done} = %v, want %d", got, len(res.Mailboxes))
	}
	if got := m.sum("bascule_mailboxes_running", nil); got != 0 {
		t.Errorf("bascule_mailboxes_running = %v after the run", got)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

// scraped is one /metrics page: samples by name.
type scraped map[string][]sample

type sample struct {
	labels map[string]string
	value  float64
}

// sum adds the samples of name whose labels include want.
func (m scraped) sum(name string, want map[string]string) float64 {
	var s float64
	for _, x := range m[name] {
		ok := true
		for k, v := range want {
			if x.labels[k] != v {
				ok = false
			}
		}
		if ok {
			s += x.value
		}
	}
	return s
}

// scrape reads http://addr/metrics in Prometheus' text format.
func scrape(addr string) (scraped, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := scraped{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("bad metrics line %q: %v", line, err)
		}
		name, labels := line[:sp], map[string]string{}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(name[i+1:], "}"), ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					labels[k] = strings.Trim(v, `"`)
				}
			}
			name = name[:i]
		}
		out[name] = append(out[name], sample{labels, v})
	}
	return out, nil
}

// TestFleetSQLite: workers on one machine share a SQLite state file. The first is stopped
// (SIGTERM) mid-mailbox: it exits 4 and gives its mailbox back to the queue at once; two
// others then finish the migration, exactly.
func TestFleetSQLite(t *testing.T) {
	e := newEnv(t, envOptions{tenant: tenant.Config{Seed: 72, Users: 5, Messages: 300, MaxAttachment: 32 << 10}})
	ctx := context.Background()
	args := func(name string) []string {
		a := e.args("--worker-id", name, "--lease-ttl", "1m", "--heartbeat", "1s", "--poll", "100ms", "--mailbox-parallel", "1")
		a[0] = "worker"
		return a
	}
	var out1, err1 syncBuffer
	w1 := e.command(ctx, args("w1")...)
	w1.Stdout, w1.Stderr = &out1, &err1
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w1.Wait() }()
	var held state.Lease
	deadline := time.Now().Add(time.Minute)
wait:
	for {
		if time.Now().After(deadline) {
			t.Fatal("w1 never started a mailbox")
		}
		select {
		case err := <-done:
			t.Fatalf("w1 ended (%v) before it could be stopped\n%s", err, tail(err1.String(), 3000))
		case <-time.After(5 * time.Millisecond):
		}
		s, err := sqliteOpen(ctx, e.state)
		if err != nil {
			continue // not created yet
		}
		ls, _ := s.Leases(ctx, "migrate")
		for _, l := range ls {
			if l.Status != state.LeaseLeased {
				continue
			}
			if c, _ := s.Counts(ctx, l.Mailbox); c.Items[state.StatusDone] > 0 {
				held = l
				s.Close()
				break wait
			}
		}
		s.Close()
	}
	_ = w1.Process.Signal(syscall.SIGTERM)
	err := <-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("w1 after SIGTERM: %v, want exit 4\n%s", err, tail(err1.String(), 3000))
	}
	s, err := sqliteOpen(ctx, e.state)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := s.Leases(ctx, "migrate")
	s.Close()
	// What w1 gave back (held, or the next one if held ended just before the signal).
	var given *state.Lease
	for _, l := range ls {
		if l.Status == state.LeasePending && l.Worker == "w1" {
			given = &l
		}
		if l.Status == state.LeaseLeased {
			t.Errorf("mailbox %s still leased after w1 stopped", l.Address)
		}
	}
	if given == nil {
		t.Fatalf("w1 gave no mailbox back after SIGTERM (it held %s): %+v", held.Address, ls)
	}

	var ws []*exec.Cmd
	var outs []*syncBuffer
	for _, name := range []string{"w2", "w3"} {
		c := e.command(ctx, args(name)...)
		b := &syncBuffer{}
		c.Stdout, c.Stderr = b, b
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		ws, outs = append(ws, c), append(outs, b)
	}
	for i, c := range ws {
		if err := c.Wait(); err != nil {
			t.Fatalf("worker %d: %v\n%s", i+2, err, tail(outs[i].String(), 3000))
		}
	}
	s, err = sqliteOpen(ctx, e.state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ls, _ = s.Leases(ctx, "migrate")
	if len(ls) != len(e.tenant.Users()) {
		t.Errorf("queue holds %d mailboxes, want %d", len(ls), len(e.tenant.Users()))
	}
	for _, l := range ls {
		if l.Status != state.LeaseDone {
			t.Errorf("mailbox %s: %s (%s), want done", l.Address, l.Status, l.Error)
		}
		if l.Mailbox == given.Mailbox && (l.Worker == "w1" || l.Attempts != 2) {
			t.Errorf("w1's mailbox: last worker %s after %d attempts, want resumed by w2/w3 at attempt 2", l.Worker, l.Attempts)
		}
	}
	e.verify()
}

func sqliteOpen(ctx context.Context, path string) (*sqlite.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, path)
}
