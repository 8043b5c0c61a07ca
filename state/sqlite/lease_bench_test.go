package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bascule-migrate/bascule/state/statetest"
)

// BenchmarkLeases: the fleet queue on a SQLite file, 4 workers in one process.
func BenchmarkLeases(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	statetest.BenchLeases(b, s, 4)
}
