package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bascule-migrate/bascule/model"
)

// ErrSchemaTooNew is returned (wrapped, and classified fatal) by Open when the database was
// written by a newer Bascule than this one: it is refused rather than misread.
var ErrSchemaTooNew = errors.New("state database schema is newer than this bascule")

// migrationLock is the advisory lock key held while migrating, so that a fleet of workers
// starting at once applies each migration once.
const migrationLock = 0x6261736375 // "bascu"

// migrations is the schema history: migrations[i] brings a database from version i to i+1.
// Append only; never edit a migration that has shipped. Each runs in its own transaction.
//
// The layout follows state/sqlite's, so the two stores answer alike:
//   - times the store sets for runs, mailboxes, folders and items are BIGINT unix
//     nanoseconds (exact, as SQLite keeps them); lease times are timestamptz from the
//     database server's clock (clock_timestamp()), the one clock every worker agrees on;
//   - items.received is TEXT RFC 3339 in UTC with nanoseconds (any year 0001–9999), NULL
//     for the zero time;
//   - items.message_id is BYTEA: a Message-ID comes from a message's raw header and may hold
//     bytes that are not UTF-8, which a TEXT column of a UTF8 database refuses;
//   - orderings the Store promises use COLLATE "C" (byte order, as SQLite), whatever the
//     database's default collation.
var migrations = []string{
	// 1: the initial schema (SQLite's versions 1–3 at once).
	`
CREATE TABLE runs (
	id       BIGSERIAL PRIMARY KEY,
	started  BIGINT NOT NULL,
	finished BIGINT,
	command  TEXT   NOT NULL,
	status   TEXT   NOT NULL,
	written  BIGINT NOT NULL DEFAULT 0,
	updated  BIGINT NOT NULL DEFAULT 0,
	deleted  BIGINT NOT NULL DEFAULT 0,
	failed   BIGINT NOT NULL DEFAULT 0,
	skipped  BIGINT NOT NULL DEFAULT 0,
	bytes    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE mailboxes (
	id      TEXT   NOT NULL PRIMARY KEY,
	address TEXT   NOT NULL,
	target  TEXT   NOT NULL,
	status  TEXT   NOT NULL,
	error   TEXT   NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX mailboxes_by_address ON mailboxes (address COLLATE "C", id COLLATE "C");

CREATE TABLE folders (
	mailbox     TEXT   NOT NULL,
	id          TEXT   NOT NULL,
	path        TEXT   NOT NULL,
	target      TEXT   NOT NULL,
	uidvalidity BIGINT NOT NULL,
	cursor      TEXT   NOT NULL,
	kind        TEXT   NOT NULL DEFAULT '',
	updated     BIGINT NOT NULL,
	PRIMARY KEY (mailbox, id)
);

CREATE TABLE items (
	mailbox       TEXT   NOT NULL,
	id            TEXT   NOT NULL,
	folder_id     TEXT   NOT NULL,
	change_key    TEXT   NOT NULL,
	status        TEXT   NOT NULL,
	target_folder TEXT   NOT NULL,
	uidvalidity   BIGINT NOT NULL,
	uid           BIGINT NOT NULL,
	sha256        TEXT   NOT NULL,
	size          BIGINT NOT NULL,
	flags         BIGINT NOT NULL,
	message_id    BYTEA  NOT NULL,
	received      TEXT,
	attempts      BIGINT NOT NULL,
	last_error    TEXT   NOT NULL,
	updated       BIGINT NOT NULL,
	kind          TEXT   NOT NULL DEFAULT '',
	href          TEXT   NOT NULL DEFAULT '',
	etag          TEXT   NOT NULL DEFAULT '',
	PRIMARY KEY (mailbox, id)
);
CREATE INDEX items_by_folder ON items (mailbox, folder_id, id);
CREATE INDEX items_by_status ON items (mailbox, status, size);

CREATE TABLE leases (
	queue     TEXT        NOT NULL,
	mailbox   TEXT        NOT NULL,
	address   TEXT        NOT NULL,
	target    TEXT        NOT NULL,
	status    TEXT        NOT NULL,
	worker    TEXT        NOT NULL DEFAULT '',
	token     BIGINT      NOT NULL DEFAULT 0,
	leased    TIMESTAMPTZ,
	heartbeat TIMESTAMPTZ,
	expires   TIMESTAMPTZ,
	attempts  BIGINT      NOT NULL DEFAULT 0,
	error     TEXT        NOT NULL DEFAULT '',
	updated   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (queue, mailbox)
);
CREATE INDEX leases_by_status ON leases (queue, status, address COLLATE "C");
`,
	// 4: IMAP keywords of mail items (model.Flags.Keywords: sorted, space-separated).
	`
ALTER TABLE items ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
`,
}

// migrate brings the database up to the last of migs, one transaction per migration, under
// an advisory lock. It returns an error wrapping ErrSchemaTooNew when the database is
// already beyond migs.
func migrate(ctx context.Context, pool *pgxpool.Pool, migs []string) error {
	for {
		done, err := migrateOne(ctx, pool, migs)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, pool *pgxpool.Pool, migs []string) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return false, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT NOT NULL PRIMARY KEY,
	applied BIGINT NOT NULL
)`); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migs) {
		return false, model.Fatal(fmt.Errorf("%w: the database has schema version %d, this bascule knows up to %d; use a newer bascule",
			ErrSchemaTooNew, version, len(migs)))
	}
	if version == len(migs) {
		return true, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, migs[version], pgx.QueryExecModeSimpleProtocol); err != nil {
		return false, fmt.Errorf("schema migration %d: %w", version+1, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1e9)::bigint)`,
		version+1); err != nil {
		return false, fmt.Errorf("record schema migration %d: %w", version+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit schema migration %d: %w", version+1, err)
	}
	return false, nil
}
