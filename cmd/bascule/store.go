package main

import (
	"context"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

// openStore opens the state store --state names: a SQLite file path (the default).
func openStore(ctx context.Context, g *GlobalOptions) (state.Store, error) {
	return sqlite.Open(ctx, g.StatePath)
}
