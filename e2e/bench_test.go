package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// BenchmarkMigrateDovecot moves a whole generated tenant from the Graph emulator (with
// Microsoft's default per-mailbox limits) into a real Dovecot with the bascule binary, and
// reports messages/s, MB/s and the process's peak RSS. Two sizes show whether memory grows
// with mailbox size. Run with `make bench`.
func BenchmarkMigrateDovecot(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := newEnv(b, envOptions{tenant: tenant.Config{Seed: 10, Users: 2, Messages: n, LargeMessages: 1}})
				msgs, bytes := e.tenant.Stats()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
				cmd := e.command(ctx, e.args()...)
				b.StartTimer()
				start := time.Now()
				out, err := cmd.CombinedOutput()
				elapsed := time.Since(start)
				b.StopTimer()
				cancel()
				if err != nil {
					b.Fatalf("bascule migrate: %v\n%s", err, tail(string(out), 3000))
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
				b.ReportMetric(float64(bytes)/1e6/elapsed.Seconds(), "MB/s")
				b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS_MB")
				b.ReportMetric(float64(bytes)/1e6, "tenant_MB")
				e.verify()
			}
		})
	}
}

// BenchmarkMigrateGroupware moves the calendars, contacts and task lists of a generated
// tenant (3 mailboxes) from the emulator into a real Radicale and a real Cyrus, and reports
// resources/s and peak RSS; the second run with nothing new shows the cost of a delta pass.
func BenchmarkMigrateGroupware(b *testing.B) {
	for _, server := range []string{"radicale", "cyrus"} {
		b.Run("server="+server, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				cfg := tenant.Small()
				cfg.Seed, cfg.Messages, cfg.Events, cfg.Contacts, cfg.Tasks = 11, 10, 400, 300, 150
				e := newGWEnv(b, server, cfg)
				items := 0
				for _, u := range e.tenant.Users() {
					for _, c := range e.tenant.Calendars(u.ID) {
						items += len(e.tenant.Events(u.ID, c.ID))
					}
					for _, f := range e.tenant.ContactFolders(u.ID) {
						items += len(e.tenant.Contacts(u.ID, f.ID))
					}
					for _, l := range e.tenant.TaskLists(u.ID) {
						items += len(e.tenant.Tasks(u.ID, l.ID))
					}
				}
				for pass, name := range []string{"first", "delta"} {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
					cmd := e.command(ctx, e.args()...)
					e.sim.ResetCounts()
					b.StartTimer()
					start := time.Now()
					out, err := cmd.CombinedOutput()
					elapsed := time.Since(start)
					b.StopTimer()
					cancel()
					if err != nil {
						b.Fatalf("bascule migrate (%s pass): %v\n%s", name, err, tail(string(out), 3000))
					}
					ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
					if pass == 0 {
						b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
						b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS_MB")
						b.ReportMetric(float64(items), "items")
					} else {
						b.ReportMetric(elapsed.Seconds(), "delta_s")
						b.ReportMetric(float64(e.requests()), "delta_graph_requests")
					}
				}
			}
		})
	}
}
