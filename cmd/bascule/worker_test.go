package main

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

func TestWorkerUsage(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "s.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--state", st, "--all", "--dry-run"}, "worker does not dry-run"},
		{[]string{"worker", "--state", st, "--all", "--lease-ttl", "10s", "--heartbeat", "10s"}, "must be shorter than --lease-ttl"},
		{[]string{"worker", "--state", st, "--all", "--lease-ttl", "10ms"}, "too short"},
		{[]string{"worker", "--state", st, "--all"}, "--tenant-id and --client-id are required"},
		// A DSN's password never shows, even when the database is unreachable.
		{[]string{"status", "--state", "postgres://u:Sup3rS3cret@127.0.0.1:1/db?sslmode=disable"},
			"opening the state store postgres://u:xxxxx@127.0.0.1:1/db"},
	} {
		t.Setenv("BASCULE_CLIENT_SECRET", "x")
		t.Setenv("BASCULE_IMAP_ADMIN_PASSWORD", "y")
		code, out := run(t, c.args...)
		if code != exitConfig || !strings.Contains(out, c.want) {
			t.Errorf("bascule %s: exit %d, output %q; want exit 1 mentioning %q", strings.Join(c.args, " "), code, out, c.want)
		}
		if strings.Contains(out, "Sup3rS3cret") {
			t.Errorf("bascule %s printed the password: %s", strings.Join(c.args, " "), out)
		}
	}
}

// TestStatusFleet: status shows the queue and every worker from a shared (SQLite) store.
func TestStatusFleet(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, "migrate", []state.Mailbox{{ID: "1", Address: "a@x", Target: "a"},
		{ID: "2", Address: "b@x", Target: "b"}, {ID: "3", Address: "c@x", Target: "c"}}); err != nil {
		t.Fatal(err)
	}
	la, _ := s.Lease(ctx, "migrate", "w1", time.Minute)
	if err := s.PutItems(ctx, []state.Item{{Mailbox: la.Mailbox, ID: "i1", Status: state.StatusDone, Size: 2048},
		{Mailbox: la.Mailbox, ID: "i2", Status: state.StatusInFlight, Size: 10}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMailbox(ctx, state.Mailbox{ID: la.Mailbox, Address: la.Address, Target: la.Target, Status: "running"}); err != nil {
		t.Fatal(err)
	}
	lb, _ := s.Lease(ctx, "migrate", "w2", 50*time.Millisecond)
	s.Close()
	time.Sleep(100 * time.Millisecond)

	code, out := run(t, "status", "--state", path)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	for _, want := range []string{"QUEUE", "migrate", "w1", "working", la.Address, "DEAD?", lb.Address, "2.0 KiB", "migrate: leased (w1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
	code, out = run(t, "status", "--state", path, "--output", "json")
	if code != 0 {
		t.Fatalf("status json: exit %d: %s", code, out)
	}
	v := jsonMap(t, out)
	ws := v["workers"].([]any)
	if len(ws) != 2 {
		t.Fatalf("workers = %v, want w1 and w2", ws)
	}
	w1, w2 := ws[0].(map[string]any), ws[1].(map[string]any)
	if w1["worker"] != "w1" || w1["mailbox"] != la.Address || w1["items_done"].(float64) != 1 || w1["items_in_flight"].(float64) != 1 || w1["expired"] != false {
		t.Errorf("w1 = %v", w1)
	}
	if w2["worker"] != "w2" || w2["expired"] != true {
		t.Errorf("w2 = %v, want its lease expired", w2)
	}
	mb := v["mailboxes"].([]any)[0].(map[string]any)
	if l := mb["leases"].([]any)[0].(map[string]any); l["worker"] != "w1" || l["status"] != "leased" || l["queue"] != "migrate" {
		t.Errorf("mailbox %v: lease %v, want leased by w1", mb["Address"], l)
	}
	q := v["queues"].([]any)[0].(map[string]any)
	if q["pending"].(float64) != 1 || q["leased"].(float64) != 2 || q["expired"].(float64) != 1 {
		t.Errorf("queue = %v, want 1 pending, 2 leased (1 expired)", q)
	}
}

// TestMetricsAddrBusy: a --metrics-addr that cannot be listened on is a usage error.
func TestMetricsAddrBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, out := run(t, "status", "--state", filepath.Join(t.TempDir(), "x.db"), "--metrics-addr", ln.Addr().String())
	if code != exitConfig || !strings.Contains(out, "--metrics-addr") {
		t.Errorf("busy --metrics-addr: exit %d, %q", code, out)
	}
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, s)
	}
	return v
}

func TestItemParallelDefault(t *testing.T) {
	for _, c := range []struct {
		source string
		flag   int
		want   int
	}{{"graph", 0, 4}, {"ews", 0, 4}, {"imap", 0, 32}, {"imap", 8, 8}, {"graph", 12, 12}} {
		o := &MigrateOptions{ItemParallel: c.flag}
		o.EWS.Kind = c.source
		if got := o.itemParallel(); got != c.want {
			t.Errorf("--source %s --item-parallel %d: %d in flight, want %d", c.source, c.flag, got, c.want)
		}
	}
}
