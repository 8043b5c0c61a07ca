package main

import (
	"context"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/postgres"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

// openStore opens the state store --state names: a PostgreSQL database when it is a
// postgres:// or postgresql:// DSN (a fleet's shared store), else a SQLite file path (the
// default). Errors never hold the DSN's password.
func openStore(ctx context.Context, g *GlobalOptions) (state.Store, error) {
	if postgres.IsDSN(g.StatePath) {
		return postgres.Open(ctx, g.StatePath)
	}
	return sqlite.Open(ctx, g.StatePath)
}

// stateName is --state as it may be printed or logged: a DSN without its password.
func stateName(g *GlobalOptions) string {
	if postgres.IsDSN(g.StatePath) {
		return postgres.Redact(g.StatePath)
	}
	return g.StatePath
}
