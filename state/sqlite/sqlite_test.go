package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/statetest"
)

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	return s
}

func TestConformanceFile(t *testing.T) {
	statetest.Run(t,
		func(t *testing.T) state.Store {
			// A hostile directory name: the path becomes a file: URI.
			dir := filepath.Join(t.TempDir(), "état ?#%20 世界")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "state.db")
			s := mustOpen(t, path)
			// SQLite itself wrote there (not to a mis-decoded URI path).
			if _, err := os.Stat(path + "-wal"); err != nil {
				t.Fatalf("no WAL next to %s: %v", path, err)
			}
			return s
		},
		statetest.WithReopen(func(t *testing.T, closed state.Store) state.Store {
			return mustOpen(t, closed.(*Store).Path())
		}),
		// A second process on the same file (fleet workers on one machine).
		statetest.WithSecondHandle(func(t *testing.T, s state.Store) state.Store {
			return mustOpen(t, s.(*Store).Path())
		}))
}

func TestConformanceMemory(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return mustOpen(t, ":memory:") })
}

func TestPragmasAndFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	defer s.Close()
	for _, tc := range []struct {
		pragma, want string
		db           string
	}{
		{"journal_mode", "wal", "w"},
		{"synchronous", "1", "w"}, // NORMAL
		{"foreign_keys", "1", "w"},
		{"foreign_keys", "1", "r"},
		{"busy_timeout", "30000", "w"},
		{"busy_timeout", "30000", "r"},
		{"query_only", "1", "r"},
		{"query_only", "0", "w"},
	} {
		db := s.w
		if tc.db == "r" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s = %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s on %s = %q, want %q", tc.pragma, tc.db, got, tc.want)
		}
	}
	// A write through the read pool is refused: reads can never write by mistake.
	if _, err := s.r.ExecContext(ctx, `DELETE FROM items`); err == nil {
		t.Errorf("write through the read pool succeeded, want query_only to refuse it")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("state file mode = %v, want 0600", m)
	}
}

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.r.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		t.Fatalf("read schema version: %v", err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")

	// An "older" database: the current schema, then a future migration appears.
	s := mustOpen(t, path)
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Fatalf("schema version = %d, want %d", v, len(migrations))
	}
	if err := s.PutItems(ctx, []state.Item{{Mailbox: "m", ID: "i", Status: state.StatusDone, Size: 5}}); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	next := append(append([]string(nil), migrations...),
		`ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT 'x'; CREATE INDEX items_note ON items (note);`)
	s2, err := open(ctx, path, next)
	if err != nil {
		t.Fatalf("open with a new migration = %v", err)
	}
	if v := schemaVersion(t, s2); v != len(next) {
		t.Errorf("schema version after upgrade = %d, want %d", v, len(next))
	}
	var note string
	if err := s2.r.QueryRow(`SELECT note FROM items WHERE id = 'i'`).Scan(&note); err != nil || note != "x" {
		t.Errorf("upgraded column = %q, %v; want x", note, err)
	}
	if it, err := s2.Item(ctx, "m", "i"); err != nil || it.Size != 5 {
		t.Errorf("Item() after upgrade = %+v, %v", it, err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening with the same list applies nothing again.
	s3, err := open(ctx, path, next)
	if err != nil {
		t.Fatalf("reopen = %v", err)
	}
	var n int
	if err := s3.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(next) {
		t.Errorf("schema_migrations rows = %d, %v; want %d", n, err, len(next))
	}
	s3.Close()

	// This bascule (without the new migration) refuses the newer file, and leaves it alone.
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) || !errors.Is(err, model.ErrFatal) {
		t.Fatalf("Open(newer file) = %v, want ErrSchemaTooNew classified fatal", err)
	}
	s4, err := open(ctx, path, next)
	if err != nil {
		t.Fatalf("open after refusal = %v", err)
	}
	if v := schemaVersion(t, s4); v != len(next) {
		t.Errorf("schema version after refusal = %d, want %d", v, len(next))
	}
	s4.Close()
}

func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	bad := append(append([]string(nil), migrations...),
		`CREATE TABLE half (x INTEGER); THIS IS NOT SQL;`)
	if _, err := open(ctx, path, bad); err == nil {
		t.Fatal("open with a broken migration = nil, want an error")
	}
	s := mustOpen(t, path)
	defer s.Close()
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Errorf("schema version = %d, want %d", v, len(migrations))
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table from the failed migration exists (%d, %v): the migration was not atomic", n, err)
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, []byte("this is not a SQLite database, just some text that is long enough to hold a header......"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), path); err == nil {
		s.Close()
		t.Fatal("Open(text file) = nil, want an error")
	}
}

func TestReceivedOutOfRange(t *testing.T) {
	s := mustOpen(t, ":memory:")
	defer s.Close()
	ctx := context.Background()
	bad := state.Item{Mailbox: "m", ID: "bad", Received: farFuture}
	err := s.PutItems(ctx, []state.Item{{Mailbox: "m", ID: "ok"}, bad})
	if !errors.Is(err, model.ErrPermanent) {
		t.Fatalf("PutItems(year 10000) = %v, want model.ErrPermanent", err)
	}
	if _, err := s.Item(ctx, "m", "ok"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Item(ok) after a failed PutItems = %v, want model.ErrNotFound (all or nothing)", err)
	}
}

var farFuture = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
