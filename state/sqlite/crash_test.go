package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

const crashChildEnv = "BASCULE_SQLITE_CRASH_CHILD"

const crashShared = 10 // items rewritten by every batch

// crashBatchSize is the number of new items batch b writes (deterministic, 1–300).
func crashBatchSize(b int) int { return 1 + (b*7919)%300 }

// crashBatch is batch b: crashBatchSize(b) new items in folder "b<b>", and the shared items
// rewritten with ChangeKey b. Either all of it is in the store or none of it.
func crashBatch(b int) []state.Item {
	var items []state.Item
	for i := range crashBatchSize(b) {
		items = append(items, state.Item{Mailbox: "m", ID: fmt.Sprintf("b%d-i%d", b, i), FolderID: fmt.Sprint("b", b),
			Status: state.StatusDone, Size: int64(i), SHA256: strings.Repeat("0f", 32), Received: time.Now()})
	}
	for k := range crashShared {
		items = append(items, state.Item{Mailbox: "m", ID: fmt.Sprint("shared-", k), FolderID: "shared",
			ChangeKey: strconv.Itoa(b), Status: state.StatusInFlight, Size: int64(b)})
	}
	return items
}

// crashChild writes batches until it is killed, printing "committed <b>" after each
// PutItems returned. It resumes after the last batch found in the store.
func crashChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	b := 0
	if it, err := s.Item(ctx, "m", "shared-0"); err == nil {
		n, _ := strconv.Atoi(it.ChangeKey)
		b = n + 1
	}
	deadline := time.Now().Add(time.Minute) // never outlive a dead parent for long
	for ; time.Now().Before(deadline); b++ {
		if err := s.PutItems(ctx, crashBatch(b)); err != nil {
			fmt.Fprintln(os.Stderr, "child put:", err)
			os.Exit(4)
		}
		fmt.Fprintf(os.Stdout, "committed %d\n", b)
	}
	os.Exit(5)
}

// TestCrashSafety kills a writing process with SIGKILL at random moments and checks, after
// each kill, that the file is intact, that every batch is all or nothing, and that every
// batch whose PutItems had returned is there.
func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill delays from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const rounds = 6
	lastSeen := -1
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reported := make(chan int, 1)
		go func() {
			last := -1
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
					last, _ = strconv.Atoi(n)
				}
			}
			reported <- last
		}()
		// The first round also lets the child create the schema; kill it at once sometimes,
		// mid-migration.
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		if round == 1 {
			delay = time.Duration(rng.IntN(30)) * time.Millisecond
		}
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatalf("kill: %v", err)
		}
		lastReported := <-reported
		werr := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child was not killed by the signal (%v); stderr: %s", round, werr, stderr.String())
		}

		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9 = %v", round, err)
		}
		var integrity string
		if err := s.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, integrity, err)
		}
		last := -1
		shared, err := s.Items(ctx, "m", "shared")
		if err != nil {
			t.Fatalf("round %d: Items(shared) = %v", round, err)
		}
		if len(shared) != 0 {
			if len(shared) != crashShared {
				t.Fatalf("round %d: %d shared items, want %d", round, len(shared), crashShared)
			}
			last, _ = strconv.Atoi(shared[0].ChangeKey)
			for _, it := range shared {
				if it.ChangeKey != shared[0].ChangeKey || it.Size != int64(last) {
					t.Fatalf("round %d: shared items from different batches: %s has %q, %s has %q (a torn transaction)",
						round, shared[0].ID, shared[0].ChangeKey, it.ID, it.ChangeKey)
				}
			}
		}
		if last < lastReported {
			t.Fatalf("round %d: batch %d was reported committed but the store ends at %d (lost a returned PutItems)",
				round, lastReported, last)
		}
		rows, err := s.r.QueryContext(ctx, `SELECT folder_id, count(*) FROM items WHERE mailbox = 'm' AND folder_id != 'shared' GROUP BY folder_id`)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]int{}
		for rows.Next() {
			var f string
			var n int
			if err := rows.Scan(&f, &n); err != nil {
				t.Fatal(err)
			}
			b, err := strconv.Atoi(strings.TrimPrefix(f, "b"))
			if err != nil {
				t.Fatalf("unexpected folder %q", f)
			}
			seen[b] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		for b := 0; b <= last; b++ {
			if seen[b] != crashBatchSize(b) {
				t.Errorf("round %d: batch %d has %d items, want %d (all or nothing)", round, b, seen[b], crashBatchSize(b))
			}
		}
		if len(seen) != last+1 {
			t.Errorf("round %d: %d batches with items, want %d (batches 0..%d)", round, len(seen), last+1, last)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %v; child reported batch %d, store holds batches 0..%d", round, delay, lastReported, last)
		if last < lastSeen {
			t.Fatalf("round %d: store went back from batch %d to %d", round, lastSeen, last)
		}
		lastSeen = last
	}
	if lastSeen < rounds {
		t.Errorf("only %d batches committed over %d rounds: the child made too little progress to test anything", lastSeen+1, rounds)
	}
}
