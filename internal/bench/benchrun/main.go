// Command benchrun runs one Bascule migration in process, the way `bascule migrate` wires
// it, with knobs the CLI does not expose and that only benchmarks need: the Graph budget's
// window (scaled down so that a bench spans several windows in a minute or two) and CPU and
// allocation profiles (pprof). e2e/bench_imap_test.go runs it as a child process, so its
// peak RSS is measured alone (wait4's rusage).
//
//	benchrun -source graph -graph-endpoint URL -authority-host URL -tenant-id T -client-id C \
//	    -ca-file ca.pem -budget 500 -window 30s -imap-addr 127.0.0.1:PORT -admin-user U \
//	    -state state.db [-cpuprofile cpu.pprof] [-memprofile mem.pprof]
//
// Secrets come from BASCULE_CLIENT_SECRET and BASCULE_IMAP_ADMIN_PASSWORD. It prints the
// run's result as JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	graphsrc "github.com/bascule-migrate/bascule/extract/graph"
	imapsrc "github.com/bascule-migrate/bascule/extract/imap"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run() error {
	source := flag.String("source", "graph", "graph or imap")
	srcAddr := flag.String("imap-source-addr", "", "source IMAP host:port (plaintext), -source imap")
	srcAdmin := flag.String("imap-source-admin-user", "", "source master user (password in BASCULE_IMAP_SOURCE_PASSWORD)")
	mailboxes := flag.String("mailboxes", "", "comma-separated source logins, -source imap")
	srcConns := flag.Int("imap-source-connections", 4, "connections per mailbox to the source")
	srcPipe := flag.Int("imap-source-pipeline", 8, "UID FETCH in flight per source connection")
	endpoint := flag.String("graph-endpoint", "", "Graph base URL")
	authority := flag.String("authority-host", "", "login authority")
	tenantID := flag.String("tenant-id", "", "tenant id")
	clientID := flag.String("client-id", "", "client id")
	caFile := flag.String("ca-file", "", "CA file for the source")
	budget := flag.Int("budget", 10000, "Graph requests per mailbox per window")
	window := flag.Duration("window", 10*time.Minute, "Graph budget window")
	conc := flag.Int("graph-concurrency", 4, "Graph concurrent requests per mailbox")
	imapAddr := flag.String("imap-addr", "", "target IMAP host:port (plaintext)")
	adminUser := flag.String("admin-user", "", "target master user")
	statePath := flag.String("state", "", "state file")
	mboxPar := flag.Int("mailbox-parallel", 4, "mailboxes at once")
	itemPar := flag.Int("item-parallel", 4, "items in flight per mailbox")
	appendConns := flag.Int("append-connections", 0, "APPEND connections per target account (0: the sink's default)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here")
	memProfile := flag.String("memprofile", "", "write an allocation profile here")
	blockProfile := flag.String("blockprofile", "", "write a blocking profile here (where goroutines wait)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	if *blockProfile != "" {
		runtime.SetBlockProfileRate(int(time.Millisecond))
		defer func() {
			if f, err := os.Create(*blockProfile); err == nil {
				pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	var src extract.Source
	switch *source {
	case "graph":
		g, err := graphsrc.New(ctx, graphsrc.Config{Endpoint: *endpoint, AuthorityHost: *authority,
			TenantID: *tenantID, ClientID: *clientID, ClientSecret: os.Getenv("BASCULE_CLIENT_SECRET"),
			CAFile: *caFile, PerMailboxConcurrency: *conc, PerMailboxRequests: *budget, Window: *window, Logger: log})
		if err != nil {
			return err
		}
		src = g
	case "imap":
		s, err := imapsrc.New(imapsrc.Config{Addr: *srcAddr, TLS: "none", Auth: imapsrc.AuthMaster, AdminUser: *srcAdmin,
			AdminPassword: os.Getenv("BASCULE_IMAP_SOURCE_PASSWORD"), Mailboxes: strings.Split(*mailboxes, ","),
			Connections: *srcConns, Pipeline: *srcPipe, Logger: log})
		if err != nil {
			return err
		}
		defer s.Close()
		src = s
	default:
		return fmt.Errorf("unknown -source %q", *source)
	}
	sink, err := imapsink.New(imapsink.Config{Addr: *imapAddr, TLS: "none", Auth: "master", AdminUser: *adminUser,
		AdminPassword: os.Getenv("BASCULE_IMAP_ADMIN_PASSWORD"), AppendConnections: *appendConns, Logger: log})
	if err != nil {
		return err
	}
	defer sink.Close()
	store, err := sqlite.Open(ctx, *statePath)
	if err != nil {
		return err
	}
	defer store.Close()
	var sel extract.Selection
	if *source == "imap" {
		sel.Addresses = strings.Split(*mailboxes, ",")
	}
	res, err := planner.Run(ctx, planner.Options{Source: src, Sink: sink, Store: store, Selection: sel,
		MailboxParallel: *mboxPar, ItemParallel: *itemPar, Deletes: planner.DeletesKeep,
		Command: "benchrun", Logger: log})
	if *memProfile != "" {
		f, ferr := os.Create(*memProfile)
		if ferr != nil {
			return ferr
		}
		if werr := pprof.Lookup("allocs").WriteTo(f, 0); werr != nil {
			return werr
		}
		f.Close()
	}
	if err != nil {
		return err
	}
	if res.Totals.Failed > 0 {
		json.NewEncoder(os.Stderr).Encode(res.Failures)
		return fmt.Errorf("%d items failed", res.Totals.Failed)
	}
	return json.NewEncoder(os.Stdout).Encode(res.Totals)
}
