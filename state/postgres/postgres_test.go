package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/statetest"
)

func mustOpen(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pg := testenv.Postgres(t)
	var dsns sync.Map // *Store → its DSN
	open := func(t *testing.T, dsn string) state.Store {
		s := mustOpen(t, dsn)
		dsns.Store(s, dsn)
		return s
	}
	dsnOf := func(s state.Store) string { v, _ := dsns.Load(s); return v.(string) }
	statetest.Run(t,
		func(t *testing.T) state.Store { return open(t, pg.NewDatabase(t)) },
		statetest.WithReopen(func(t *testing.T, closed state.Store) state.Store { return open(t, dsnOf(closed)) }),
		statetest.WithSecondHandle(func(t *testing.T, s state.Store) state.Store { return open(t, dsnOf(s)) }))
}

// TestMessageIDBytes: a Message-ID is raw header bytes; any byte comes back as it went in.
func TestMessageIDBytes(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	s := mustOpen(t, pg.NewDatabase(t))
	defer s.Close()
	ids := []string{"<caf\xe9@example.org>", "<a\x00b@x>", "<ok@example.org>"}
	var items []state.Item
	for i, id := range ids {
		items = append(items, state.Item{Mailbox: "m", ID: string(rune('a' + i)), MessageID: id, Status: state.StatusDone,
			LastError: "bad \xff byte\x00"})
	}
	if err := s.PutItems(ctx, items); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	for _, want := range items {
		got, err := s.Item(ctx, "m", want.ID)
		if err != nil || got.MessageID != want.MessageID {
			t.Errorf("Item(%s).MessageID = %q, %v; want %q", want.ID, got.MessageID, err, want.MessageID)
		}
		if got.LastError == "" {
			t.Errorf("Item(%s).LastError lost", want.ID)
		}
	}
}

// TestPasswordNeverInErrors: a DSN's password appears in no error and not in String.
func TestPasswordNeverInErrors(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	const secret = "s3cr3t-Zq9"
	dsn := strings.Replace(pg.DSN, ":"+pg.Password+"@", ":"+secret+"@", 1)
	_, err := Open(ctx, dsn)
	if err == nil {
		t.Fatal("Open(wrong password) = nil")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the password: %v", err)
	}
	for _, bad := range []string{
		"postgres://u:" + secret + "@127.0.0.1:1/db?sslmode=disable",
		"postgres://u:" + secret + "@[::1/db",
		"host=127.0.0.1 port=1 user=u password=" + secret + " dbname=x",
		"postgres://u:" + secret + "@127.0.0.1:1/db?sslmode=bogus",
	} {
		if _, err := Open(ctx, bad); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%s) = %v; want an error without the password", Redact(bad), err)
		}
		if r := Redact(bad); strings.Contains(r, secret) {
			t.Errorf("Redact() = %q shows the password", r)
		}
	}
	s := mustOpen(t, pg.DSN)
	defer s.Close()
	if strings.Contains(s.String(), pg.Password) || !strings.Contains(s.String(), "127.0.0.1") {
		t.Errorf("String() = %q; want the DSN without its password", s.String())
	}
}

// TestSchemaTooNew: a database from a newer Bascule is refused, fatally.
func TestSchemaTooNew(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	s, err := open(ctx, dsn, append(append([]string(nil), migrations...), `CREATE TABLE later (x int)`))
	if err != nil {
		t.Fatalf("open(newer schema) = %v", err)
	}
	s.Close()
	_, err = Open(ctx, dsn)
	if !errors.Is(err, ErrSchemaTooNew) || !errors.Is(err, model.ErrFatal) {
		t.Fatalf("Open(newer database) = %v, want ErrSchemaTooNew, fatal", err)
	}
	// Concurrent openers on a fresh database apply each migration once.
	dsn2 := pg.NewDatabase(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, dsn2)
			if err != nil {
				t.Errorf("concurrent Open() = %v", err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	conn, err := pgx.Connect(ctx, dsn2)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, v int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil || n != len(migrations) || v != len(migrations) {
		t.Errorf("schema_migrations = %d rows, version %d, %v; want %d", n, v, err, len(migrations))
	}
}
