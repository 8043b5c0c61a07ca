package testenv

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	p := Postgres(t)
	ctx := context.Background()
	for range 2 {
		dsn := p.NewDatabase(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("Connect(%s) = %v", dsn, err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("fresh database: %d tables, %v; want 0", n, err)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE x (a int)`); err != nil {
			t.Errorf("CREATE TABLE: %v", err)
		}
		conn.Close(ctx)
	}
	// A wrong password is refused: the server checks passwords over TCP.
	bad := "postgres://postgres:wrong@127.0.0.1:" + strconv.Itoa(p.Port) + "/postgres?sslmode=disable"
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Errorf("Connect with a wrong password succeeded")
	}
}
