package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a running PostgreSQL.
type PostgresServer struct {
	// DSN reaches the superuser's database "postgres":
	// postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable.
	DSN      string
	Password string // the superuser's password (it is in DSN too)
	Port     int
	Dir      string
	dbs      atomic.Int64
}

// pgInstalled reports where initdb lives ("" when PostgreSQL is not installed).
func pgInstalled() string {
	if b := os.Getenv("PG_BIN"); b != "" {
		return b
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// Postgres starts a private PostgreSQL through scripts/postgres.sh (initdb in a fresh
// directory; as root the server runs as an unprivileged user), stopped and removed when the
// test ends. When PostgreSQL is not installed the test is skipped loudly, or fails when
// BASCULE_REQUIRE_SERVERS=1 (CI).
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	if pgInstalled() == "" {
		missing(t, "postgresql (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp(fastTempDir(), "pg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &PostgresServer{Dir: dir, Password: "pw-" + filepath.Base(dir), Port: freePort(t)}
	script := filepath.Join(repoRoot(), "scripts", "postgres.sh")
	cmd := exec.Command(script, "start", dir, fmt.Sprint(p.Port))
	cmd.Env = append(os.Environ(), "PG_PASSWORD="+p.Password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("scripts/postgres.sh start: %v\n%s%s", err, out, stderr.String())
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "READY postgres dsn=") {
		os.RemoveAll(dir)
		t.Fatalf("scripts/postgres.sh start printed %q", out)
	}
	p.DSN = (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", p.Password),
		Host: fmt.Sprintf("127.0.0.1:%d", p.Port), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	t.Logf("postgres started: 127.0.0.1:%d dir=%s", p.Port, dir)
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Logf("scripts/postgres.sh stop: %v\n%s", err, out)
		}
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "log", "postgres.log")); err == nil {
				t.Logf("postgres log (tail):\n%s", tailLines(string(log), 30))
			}
		}
		os.RemoveAll(dir)
	})
	return p
}

// NewDatabase creates a fresh, empty database on the server and returns its DSN.
func (p *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), p.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		t.Fatalf("postgres: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: CREATE DATABASE %s: %v", name, err)
	}
	u, _ := url.Parse(p.DSN)
	u.Path = "/" + name
	return u.String()
}
