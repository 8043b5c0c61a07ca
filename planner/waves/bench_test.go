package waves

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkBuild10k plans a 10,000-mailbox tenant: teams of 2–12 linked by delegations,
// shared mailboxes, a few giants, a 48h window with 4 workers × 8 mailboxes.
func BenchmarkBuild10k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 10000
	mbs := make([]Mailbox, n)
	for i := range mbs {
		est := float64(600 + r.IntN(20000))
		if r.IntN(200) == 0 {
			est = float64(100000 + r.IntN(200000))
		}
		mbs[i] = Mailbox{Source: fmt.Sprintf("u%d@contoso.example", i), Target: fmt.Sprintf("u%d", i), Line: i + 2, Group: -1,
			Items: int64(r.IntN(100000)), Bytes: int64(r.IntN(10 << 30)), EstimateSeconds: est}
	}
	var edges []Edge
	for i := 0; i < n; {
		team := 1 + r.IntN(12)
		for j := 1; j < team && i+j < n; j++ {
			edges = append(edges, Edge{Owner: mbs[i].Source, Grantee: mbs[i+j].Source, Kind: EdgeCalendar})
		}
		i += team
	}
	cfg := Config{Start: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), Window: 48 * time.Hour, Workers: 4, MailboxParallel: 8}
	b.ReportAllocs()
	var p *Plan
	for b.Loop() {
		var err error
		if p, err = Build(mbs, edges, true, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.Waves)), "waves")
}

// BenchmarkBuild10kNights plans 10,000 small mailboxes (20–50 minutes each) into one-hour
// nights on 4 slots: thousands of waves, found by the binary search on the wave count.
func BenchmarkBuild10kNights(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 10000
	mbs := make([]Mailbox, n)
	for i := range mbs {
		mbs[i] = Mailbox{Source: fmt.Sprintf("u%d@contoso.example", i), Target: fmt.Sprintf("u%d", i), Line: i + 2, Group: -1,
			EstimateSeconds: float64(1200 + r.IntN(1800))}
	}
	cfg := Config{Start: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), Window: time.Hour, Every: 24 * time.Hour, Workers: 1, MailboxParallel: 4}
	var p *Plan
	for b.Loop() {
		var err error
		if p, err = Build(mbs, nil, true, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.Waves)), "waves")
}
