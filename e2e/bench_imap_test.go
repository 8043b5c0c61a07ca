package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/internal/bench"
	"github.com/bascule-migrate/bascule/internal/testenv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// The whole-run benchmarks of `make bench` (issue 7): the same corpus copied from a source
// Dovecot into fresh target Dovecots by a minimal pipelined APPEND client (the target's
// ceiling), Bascule, mbsync and imapsync, then a no-op rerun; and Bascule from the Graph
// emulator under Microsoft's throttling (budget scaled to a short window). Sizes come from
// the environment:
//
//	BENCH_MESSAGES         corpus size (default 10000; about 130 KB per message on average)
//	BENCH_GRAPH_MESSAGES   Graph tenant size (default 3000)
//	BENCH_GRAPH_WINDOW     the budget's window (default 30s; the budget is scaled with it:
//	                       Microsoft's 10,000 requests per 10 minutes is 500 per 30 s)
//	BENCH_GRAPH_THROTTLE   "off": no throttling at all (to profile Bascule's own costs)
//	BENCH_PROFILE_DIR      write CPU and allocation profiles of the in-process runs there
//	                       (IMAP: one more Bascule run, in process; BENCH_BENCHRUN_FLAGS adds flags)
//	BENCH_CORPUS_DIR       keep the rendered corpus there between runs
//	BENCH_RAW_VARIANTS     "1": also time the raw client with MULTIAPPEND, fewer APPENDs in
//	                       flight, two connections per account
//	BENCH_BASCULE_FLAGS    extra flags for bascule migrate (e.g. "--item-parallel 32")
//	BENCH_ROUNDS           run every tool this many times (fresh targets) and keep the best
//	                       wall time: a shared machine's noise only ever slows a run down
//	BENCH_ONLY             run only these tools (comma-separated: raw,bascule,mbsync,imapsync)
//	IMAPSYNC               path of imapsync (not packaged by Debian)
//
// Each prints a table; the figures go to docs/PERFORMANCE.md.

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	benchRunOnce sync.Once
	benchRunPath string
	benchRunErr  error
)

// benchRunBinary builds internal/bench/benchrun once.
func benchRunBinary(t testing.TB) string {
	t.Helper()
	benchRunOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bascule-benchrun-")
		if err != nil {
			benchRunErr = err
			return
		}
		benchRunPath = filepath.Join(dir, "benchrun")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", benchRunPath, "./internal/bench/benchrun")
		cmd.Dir = filepath.Dir(filepath.Dir(file))
		if out, err := cmd.CombinedOutput(); err != nil {
			benchRunErr = fmt.Errorf("go build benchrun: %v\n%s", err, out)
		}
	})
	if benchRunErr != nil {
		t.Fatal(benchRunErr)
	}
	return benchRunPath
}

// benchCorpus renders the corpus (kept in BENCH_CORPUS_DIR when set).
func benchCorpus(b *testing.B, n int) *bench.Corpus {
	b.Helper()
	dir := os.Getenv("BENCH_CORPUS_DIR")
	if dir == "" {
		base := os.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
		d, err := os.MkdirTemp(base, "bascule-corpus-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	dir = filepath.Join(dir, fmt.Sprintf("%s-seed7-n%d", bench.CorpusVersion, n))
	start := time.Now()
	c, err := bench.GenerateCorpus(bench.CorpusConfig{Seed: 7, Messages: n}, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("corpus: %d messages, %.0f MB, %d folders over %d accounts, largest %.1f MB (%s) in %v",
		c.Messages, float64(c.Bytes)/1e6, c.FolderCount(), len(c.Users), float64(c.Largest)/1e6, c.SizeMix(), time.Since(start).Round(time.Millisecond))
	return c
}

func masterLogin(d *testenv.DovecotServer) func(string) bench.Login {
	return func(u string) bench.Login { return bench.Login{User: u + "*" + d.MasterUser, Password: d.MasterPass} }
}

func endpoint(d *testenv.DovecotServer) bench.Endpoint {
	host, port, _ := net.SplitHostPort(d.Addr)
	return bench.Endpoint{Host: host, Port: port, Master: d.MasterUser, MasterPass: d.MasterPass}
}

// dropMail frees a target's messages once it has been checked (they live in memory, /dev/shm).
func dropMail(d *testenv.DovecotServer) {
	os.RemoveAll(filepath.Join(d.Dir, "mail"))
}

// BenchmarkIMAPToIMAP is the head-to-head: corpus → source Dovecot, then each tool into a
// fresh target Dovecot, measured in one run, then a no-op rerun of each.
func BenchmarkIMAPToIMAP(b *testing.B) {
	for range b.N {
		benchIMAPOnce(b)
	}
}

func benchIMAPOnce(b *testing.B) {
	b.StopTimer()
	n := benchEnvInt("BENCH_MESSAGES", 10000)
	c := benchCorpus(b, n)
	logins := c.Logins()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()

	src := testenv.Dovecot(b, logins...)
	loadTime, _, err := bench.Timed(ctx, func(ctx context.Context) error {
		return bench.RawAppend(ctx, src.Addr, c, masterLogin(src), bench.RawOptions{})
	})
	if err != nil {
		b.Fatalf("loading the source: %v", err)
	}
	if ex, err := bench.CheckTarget(src.Addr, c, masterLogin(src)); err != nil || ex.Differ() != 0 || ex.Extra != 0 {
		b.Fatalf("the source does not hold the corpus exactly: %v %v", ex, err)
	}
	b.Logf("source loaded in %v", loadTime.Round(time.Millisecond))
	var results []bench.Result
	row := func(tool, pass string) bench.Result {
		return bench.Result{Tool: tool, Pass: pass, Messages: c.Messages, Bytes: c.Bytes}
	}
	checking := true // the first round reads every target back; later ones only time
	check := func(r *bench.Result, d *testenv.DovecotServer) {
		if !checking {
			return
		}
		ex, err := bench.CheckTarget(d.Addr, c, masterLogin(d))
		if err != nil {
			b.Errorf("%s: reading the target back: %v", r.Tool, err)
			return
		}
		r.Exact = &ex
	}

	rounds := benchEnvInt("BENCH_ROUNDS", 1)
	for round := range rounds {
		checking = round == 0
		results = append(results, benchIMAPRound(b, ctx, c, src, row, check, round)...)
	}
	if rounds > 1 {
		results = bench.Best(results)
	}
	bench.PrintTable(os.Stdout, fmt.Sprintf("IMAP → IMAP: %d messages, %.0f MB, %d accounts, %d folders (%s); best wall of %d round(s)",
		c.Messages, float64(c.Bytes)/1e6, len(c.Users), c.FolderCount(), c.SizeMix(), rounds), results)
	for _, r := range results {
		if r.Skipped == "" && r.Pass == "first" {
			b.ReportMetric(r.Wall.Seconds(), strings.ReplaceAll(r.Tool, " ", "_")+"_s")
		}
	}
}

// benchIMAPRound runs every tool once, each into a fresh target.
func benchIMAPRound(b *testing.B, ctx context.Context, c *bench.Corpus, src *testenv.DovecotServer,
	row func(tool, pass string) bench.Result, check func(*bench.Result, *testenv.DovecotServer), round int) []bench.Result {
	var results []bench.Result
	var err error
	logins := c.Logins()
	// (a) The raw APPEND ceiling of the target.
	if benchWant("raw") {
		dst := testenv.Dovecot(b, logins...)
		r := row("raw APPEND", "first")
		b.StartTimer()
		r.Wall, r.PeakRSS, err = bench.Timed(ctx, func(ctx context.Context) error {
			return bench.RawAppend(ctx, dst.Addr, c, masterLogin(dst), bench.RawOptions{Conns: 2})
		})
		b.StopTimer()
		if err != nil {
			b.Fatalf("raw APPEND: %v", err)
		}
		r.RSSHow, r.Note = "VmHWM, test process", "reads files, LITERAL+, 64 in flight, 2 connections per account"
		check(&r, dst)
		results = append(results, r)
		dropMail(dst)
	}

	// Variants of the raw client, to see what the target rewards (BENCH_RAW_VARIANTS=1).
	if os.Getenv("BENCH_RAW_VARIANTS") == "1" && benchWant("raw") && round == 0 {
		for _, v := range []struct {
			note string
			o    bench.RawOptions
		}{
			{"MULTIAPPEND of up to 16 messages, 64 in flight, 1 connection per account", bench.RawOptions{Multi: 16}},
			{"LITERAL+, 4 in flight, 1 connection per account", bench.RawOptions{InFlight: 4}},
			{"LITERAL+, 16 in flight, 1 connection per account", bench.RawOptions{InFlight: 16}},
			{"LITERAL+, 64 in flight, 1 connection per account", bench.RawOptions{}},
		} {
			dst := testenv.Dovecot(b, logins...)
			r := row("raw variant", "first")
			r.Wall, r.PeakRSS, err = bench.Timed(ctx, func(ctx context.Context) error {
				return bench.RawAppend(ctx, dst.Addr, c, masterLogin(dst), v.o)
			})
			if err != nil {
				b.Fatalf("raw APPEND (%s): %v", v.note, err)
			}
			r.RSSHow, r.Note = "VmHWM, test process", v.note
			check(&r, dst)
			results = append(results, r)
			dropMail(dst)
		}
	}

	// (b) Bascule, IMAP → IMAP.
	if benchWant("bascule") {
		results = append(results, benchBasculeIMAP(b, ctx, c, src, check, round)...)
	}

	// (c) mbsync.
	if !benchWant("mbsync") {
	} else if !bench.Have("mbsync") {
		results = append(results, bench.Result{Tool: "mbsync", Pass: "first", Skipped: "mbsync: not available (apt-get install isync)"})
	} else {
		dst := testenv.Dovecot(b, logins...)
		dir := b.TempDir()
		cfg, err := bench.MbsyncConfig(dir, endpoint(src), endpoint(dst), logins)
		if err != nil {
			b.Fatal(err)
		}
		for _, pass := range []string{"first", "no-op"} {
			r := row("mbsync", pass)
			var out string
			r.Wall, r.PeakRSS, r.CPU, out, err = bench.RunChildCPU(bench.MbsyncCommand(ctx, cfg))
			if err != nil {
				b.Fatalf("mbsync (%s): %v\n%s", pass, err, bench.CommandOutputTail(out, 3000))
			}
			r.RSSHow, r.Note = "rusage", "mbsync -a (isync 1.4.4), one process, channels in turn"
			check(&r, dst)
			results = append(results, r)
		}
		dropMail(dst)
	}

	// (d) imapsync, when IMAPSYNC names it.
	if bin := os.Getenv("IMAPSYNC"); !benchWant("imapsync") {
	} else if bin == "" {
		fmt.Println("imapsync: not available (set IMAPSYNC)")
		results = append(results, bench.Result{Tool: "imapsync", Pass: "first", Skipped: "imapsync: not available (set IMAPSYNC)"})
	} else {
		dst := testenv.Dovecot(b, logins...)
		tmp := b.TempDir()
		for _, pass := range []string{"first", "no-op"} {
			r := row("imapsync", pass)
			r.Wall, r.PeakRSS, err = bench.RunImapsync(ctx, bin, endpoint(src), endpoint(dst), logins, tmp)
			if err != nil {
				b.Fatalf("imapsync (%s): %v", pass, err)
			}
			r.RSSHow, r.Note = "rusage, largest run", "one run per account, in turn"
			check(&r, dst)
			results = append(results, r)
		}
		dropMail(dst)
	}
	return results
}

// benchWant tells whether BENCH_ONLY (comma-separated tools; empty = all) asks for tool.
func benchWant(tool string) bool {
	only := os.Getenv("BENCH_ONLY")
	if only == "" {
		return true
	}
	for _, t := range strings.Split(only, ",") {
		if strings.TrimSpace(t) == tool {
			return true
		}
	}
	return false
}

// basculeHasIMAPSource reports whether the built binary reads from IMAP (`--source imap`).
func basculeHasIMAPSource(b *testing.B) bool {
	out, _ := exec.Command(binary(b), "migrate", "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "--source ") && strings.Contains(line, "imap") {
			return true
		}
	}
	return false
}

func benchBasculeIMAP(b *testing.B, ctx context.Context, c *bench.Corpus, src *testenv.DovecotServer,
	check func(*bench.Result, *testenv.DovecotServer), round int) []bench.Result {
	if !basculeHasIMAPSource(b) {
		return []bench.Result{{Tool: "bascule", Pass: "first", Skipped: "bascule: this build has no --source imap yet"}}
	}
	dst := testenv.Dovecot(b, c.Logins()...)
	dir := b.TempDir()
	state := filepath.Join(dir, "state.db")
	args := []string{"migrate", "--source", "imap", "--state", state,
		"--imap-source-addr", src.Addr, "--imap-source-tls", "none", "--imap-source-auth", "master",
		"--imap-source-admin-user", src.MasterUser,
		"--imap-addr", dst.Addr, "--imap-tls", "none", "--imap-auth", "master", "--imap-admin-user", dst.MasterUser,
		"--no-progress", "--log-level", "warn"}
	for _, l := range c.Logins() {
		args = append(args, "--mailbox", l)
	}
	// The CLI's defaults (--item-parallel 32 for an IMAP source); BENCH_BASCULE_FLAGS adds flags.
	extra := os.Getenv("BENCH_BASCULE_FLAGS")
	args = append(args, strings.Fields(extra)...)
	var out []bench.Result
	for _, pass := range []string{"first", "no-op"} {
		cmd := exec.CommandContext(ctx, binary(b), args...)
		cmd.Env = append(os.Environ(), "BASCULE_IMAP_ADMIN_PASSWORD="+dst.MasterPass,
			"BASCULE_IMAP_SOURCE_PASSWORD="+src.MasterPass)
		r := bench.Result{Tool: "bascule", Pass: pass, Messages: c.Messages, Bytes: c.Bytes}
		wall, rss, cpu, o, err := bench.RunChildCPU(cmd)
		if err != nil {
			b.Fatalf("bascule migrate --source imap (%s): %v\n%s", pass, err, bench.CommandOutputTail(o, 3000))
		}
		r.Wall, r.PeakRSS, r.CPU, r.RSSHow, r.Note = wall, rss, cpu, "rusage", strings.TrimSpace("bascule migrate --source imap "+extra)
		check(&r, dst)
		out = append(out, r)
	}
	dropMail(dst)
	if pd := os.Getenv("BENCH_PROFILE_DIR"); pd != "" && round == 0 {
		out = append(out, benchBasculeIMAPProfiled(b, ctx, c, src, check, pd, ""))
	}
	// A/B comparisons of benchrun flag sets, alternated so that both see the same machine
	// load: BENCH_AB="-append-connections 1|-append-connections 2", BENCH_AB_ROUNDS (2). A
	// set may start with bin=PATH: another benchrun binary (an older commit's, for before/after).
	if ab := os.Getenv("BENCH_AB"); ab != "" {
		for range benchEnvInt("BENCH_AB_ROUNDS", 2) {
			for _, flags := range strings.Split(ab, "|") {
				out = append(out, benchBasculeIMAPProfiled(b, ctx, c, src, check, "", flags))
			}
		}
	}
	return out
}

// benchBasculeIMAPProfiled runs the same migration in process (internal/bench/benchrun)
// with CPU and allocation profiles written to dir.
func benchBasculeIMAPProfiled(b *testing.B, ctx context.Context, c *bench.Corpus, src *testenv.DovecotServer,
	check func(*bench.Result, *testenv.DovecotServer), dir, flags string) bench.Result {
	dst := testenv.Dovecot(b, c.Logins()...)
	defer dropMail(dst)
	bin := benchRunBinary(b)
	args := []string{"-source", "imap", "-imap-source-addr", src.Addr, "-imap-source-admin-user", src.MasterUser,
		"-mailboxes", strings.Join(c.Logins(), ","), "-imap-addr", dst.Addr, "-admin-user", dst.MasterUser,
		"-state", filepath.Join(b.TempDir(), "state.db")}
	tool, note := "bascule (profiled)", "in process (benchrun), pprof on"
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		args = append(args, "-cpuprofile", filepath.Join(dir, "imap-cpu.pprof"), "-memprofile", filepath.Join(dir, "imap-mem.pprof"))
		if extra := os.Getenv("BENCH_BENCHRUN_FLAGS"); extra != "" {
			args = append(args, strings.Fields(extra)...)
		}
	} else {
		tool, note = "bascule (A/B)", "benchrun "+flags
		f := strings.Fields(flags)
		if len(f) > 0 && strings.HasPrefix(f[0], "bin=") {
			bin = strings.TrimPrefix(f[0], "bin=")
			f = f[1:]
		}
		args = append(args, f...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "BASCULE_IMAP_ADMIN_PASSWORD="+dst.MasterPass, "BASCULE_IMAP_SOURCE_PASSWORD="+src.MasterPass)
	r := bench.Result{Tool: tool, Pass: "first", Messages: c.Messages, Bytes: c.Bytes}
	wall, rss, cpu, o, err := bench.RunChildCPU(cmd)
	if err != nil {
		b.Fatalf("benchrun -source imap: %v\n%s", err, bench.CommandOutputTail(o, 3000))
	}
	r.Wall, r.PeakRSS, r.CPU, r.RSSHow, r.Note = wall, rss, cpu, "rusage", note
	check(&r, dst)
	return r
}

// BenchmarkGraphThrottled moves a generated tenant from the Graph emulator, with Microsoft's
// per-mailbox limits on (4 concurrent requests; 10,000 requests per 10 minutes, scaled down
// to BENCH_GRAPH_WINDOW with the same rate), into a real Dovecot, with Bascule configured
// with the same budget. A proxy in front of the emulator records each mailbox's requests:
// the table shows the share of the budget each used over the windows its run spanned, and
// the 429s. The run is in process (internal/bench/benchrun) so that the window can be scaled
// and profiles taken; its peak RSS is its own (rusage).
func BenchmarkGraphThrottled(b *testing.B) {
	for range b.N {
		benchGraphOnce(b)
	}
}

func benchGraphOnce(b *testing.B) {
	b.StopTimer()
	n := benchEnvInt("BENCH_GRAPH_MESSAGES", 3000)
	window := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("BENCH_GRAPH_WINDOW")); err == nil && d > 0 {
		window = d
	}
	budget := int(10000 * window.Seconds() / 600)
	off := os.Getenv("BENCH_GRAPH_THROTTLE") == "off"
	clientBudget := budget
	if off {
		clientBudget = 1 << 30
	}
	ten := tenant.Generate(tenant.Config{Seed: 12, Users: 3, Messages: n, MaxAttachment: 4 << 20})
	msgs, bytes := ten.Stats()
	secret := "bench-graph-secret"
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-bench", ClientSecret: secret,
		Throttle: simgraph.Throttle{Concurrency: 4, Requests: budget, Window: window, Disabled: off}})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	rec, err := bench.StartGraphRecorder(sim.URL(), sim.CAPEM())
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	var logins []string
	for _, u := range ten.Users() {
		logins = append(logins, u.UPN)
	}
	dst := testenv.Dovecot(b, logins...)
	dir := b.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, append(sim.CAPEM(), rec.CAPEM...), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"-source", "graph", "-graph-endpoint", rec.URL + "/v1.0", "-authority-host", sim.AuthorityHost(),
		"-tenant-id", sim.TenantID(), "-client-id", "bascule-bench", "-ca-file", caFile,
		"-budget", fmt.Sprint(clientBudget), "-window", window.String(),
		"-imap-addr", dst.Addr, "-admin-user", dst.MasterUser, "-state", filepath.Join(dir, "state.db")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	var results []bench.Result
	var uses []bench.BudgetUse
	for _, pass := range []string{"first", "no-op"} {
		rec.Reset()
		throttledBefore := sim.Throttled()
		a := args
		if pd := os.Getenv("BENCH_PROFILE_DIR"); pd != "" {
			if err := os.MkdirAll(pd, 0o755); err != nil {
				b.Fatal(err)
			}
			a = append(a[:len(a):len(a)], "-cpuprofile", filepath.Join(pd, "graph-"+pass+"-cpu.pprof"),
				"-memprofile", filepath.Join(pd, "graph-"+pass+"-mem.pprof"))
		}
		cmd := exec.CommandContext(ctx, benchRunBinary(b), a...)
		cmd.Env = append(os.Environ(), "BASCULE_CLIENT_SECRET="+secret, "BASCULE_IMAP_ADMIN_PASSWORD="+dst.MasterPass)
		b.StartTimer()
		wall, rss, cpu, out, err := bench.RunChildCPU(cmd)
		b.StopTimer()
		if err != nil {
			b.Fatalf("benchrun (%s): %v\n%s", pass, err, bench.CommandOutputTail(out, 3000))
		}
		var totals struct{ Written, Skipped int64 }
		_ = json.Unmarshal([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]), &totals)
		r := bench.Result{Tool: "bascule", Pass: pass, Messages: msgs, Bytes: bytes, Wall: wall, PeakRSS: rss, CPU: cpu, RSSHow: "rusage",
			Note: fmt.Sprintf("%d×429 from the emulator", sim.Throttled()-throttledBefore)}
		if pass == "first" {
			uses = rec.Budget(budget, window)
			e := &env{t: b, tenant: ten, sim: sim, dovecot: dst}
			e.verify() // fails the benchmark on any difference
			if !b.Failed() {
				r.Exact = &bench.Exactness{Source: msgs, Target: msgs}
			}
		}
		results = append(results, r)
	}
	bench.PrintTable(os.Stdout, fmt.Sprintf("Graph emulator → Dovecot, throttled (4 concurrent, %d requests per %v per mailbox = Microsoft's 10,000 per 10 min, scaled): %d messages, %.0f MB, %d mailboxes",
		budget, window, msgs, float64(bytes)/1e6, len(ten.Users())), results)
	fmt.Println("budget use per mailbox (first pass, measured by a proxy in front of the emulator):")
	worst := 1.0
	for _, u := range uses {
		if usr, ok := ten.User(u.Mailbox); ok {
			u.Mailbox = usr.UPN
		}
		fmt.Println("  " + u.String())
		if u.Windows > 0 {
			worst = min(worst, u.Used)
		}
	}
	b.ReportMetric(100*worst, "min_budget_used_%")
	b.ReportMetric(float64(results[0].Wall.Seconds()), "first_s")
}
