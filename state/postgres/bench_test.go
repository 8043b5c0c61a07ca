package postgres

import (
	"context"
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/state/statetest"
)

// BenchmarkLeases: the fleet queue on a local PostgreSQL (fsync off), 4 and 16 workers.
func BenchmarkLeases(b *testing.B) {
	pg := testenv.Postgres(b)
	for _, w := range []int{4, 16} {
		b.Run(map[int]string{4: "workers=4", 16: "workers=16"}[w], func(b *testing.B) {
			s, err := Open(context.Background(), pg.NewDatabase(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			statetest.BenchLeases(b, s, w)
		})
	}
}
