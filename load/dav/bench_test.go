package dav_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/load/davtest"
	"github.com/bascule-migrate/bascule/model"
)

// BenchmarkPutRadicale measures new-resource PUTs (If-None-Match: *) into one Radicale
// calendar, one at a time and with the sink's default parallelism.
func BenchmarkPutRadicale(b *testing.B) {
	s := testenv.Radicale(b, "alice")
	for _, par := range []int{1, 4} {
		// The benchmark function runs several times (growing b.N): names must stay new.
		var n atomic.Int64
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			sink, err := dav.New(dav.Config{URL: s.URL, Passwords: s.Users, Parallel: par})
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			w, err := sink.Open(b.Context(), "alice")
			if err != nil {
				b.Fatal(err)
			}
			col, err := w.EnsureCollection(b.Context(), model.Collection{ID: fmt.Sprintf("bench-%d", par), Kind: model.KindCalendar, Name: "Bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					uid := fmt.Sprintf("bench-%d-%d", par, n.Add(1))
					if _, err := w.Put(b.Context(), col, load.Resource{Name: uid + ".ics", Data: davtest.Event(uid, "benchmark "+uid)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}
