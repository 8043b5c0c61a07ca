package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// ErrSchemaTooNew is returned (wrapped, and classified fatal) by Open when the state file was
// written by a newer Bascule than this one: it is refused rather than misread.
var ErrSchemaTooNew = errors.New("state file schema is newer than this bascule")

// migrations is the schema history: migrations[i] brings a database from version i to i+1.
// Append only; never edit a migration that has shipped. Each runs in its own transaction.
//
// Design notes:
//   - STRICT tables: SQLite checks column types, as PostgreSQL will.
//   - No foreign keys between tables: the Store contract does not order writes (a folder may
//     be recorded before its mailbox), so none are declared; PRAGMA foreign_keys is on so that
//     any later migration that declares one gets it enforced.
//   - Times the store sets (updated, started, finished) are INTEGER unix nanoseconds.
//     items.received comes from the source and may be any year 0001–9999 (Exchange uses
//     1601-01-01 as "none"), beyond what unix nanoseconds hold, so it is TEXT RFC 3339 in UTC
//     with nanoseconds, NULL for the zero time.
//   - items.flags is a bitmask: 1 Seen, 2 Flagged, 4 Answered, 8 Draft.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE runs (
	id       INTEGER PRIMARY KEY,
	started  INTEGER NOT NULL,
	finished INTEGER,
	command  TEXT    NOT NULL,
	status   TEXT    NOT NULL,
	written  INTEGER NOT NULL DEFAULT 0,
	updated  INTEGER NOT NULL DEFAULT 0,
	deleted  INTEGER NOT NULL DEFAULT 0,
	failed   INTEGER NOT NULL DEFAULT 0,
	skipped  INTEGER NOT NULL DEFAULT 0,
	bytes    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE mailboxes (
	id      TEXT    NOT NULL PRIMARY KEY,
	address TEXT    NOT NULL,
	target  TEXT    NOT NULL,
	status  TEXT    NOT NULL,
	error   TEXT    NOT NULL,
	updated INTEGER NOT NULL
) STRICT;
CREATE INDEX mailboxes_by_address ON mailboxes (address, id);

CREATE TABLE folders (
	mailbox     TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	uidvalidity INTEGER NOT NULL,
	cursor      TEXT    NOT NULL,
	updated     INTEGER NOT NULL,
	PRIMARY KEY (mailbox, id)
) STRICT;

CREATE TABLE items (
	mailbox       TEXT    NOT NULL,
	id            TEXT    NOT NULL,
	folder_id     TEXT    NOT NULL,
	change_key    TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	target_folder TEXT    NOT NULL,
	uidvalidity   INTEGER NOT NULL,
	uid           INTEGER NOT NULL,
	sha256        TEXT    NOT NULL,
	size          INTEGER NOT NULL,
	flags         INTEGER NOT NULL,
	message_id    TEXT    NOT NULL,
	received      TEXT,
	attempts      INTEGER NOT NULL,
	last_error    TEXT    NOT NULL,
	updated       INTEGER NOT NULL,
	PRIMARY KEY (mailbox, id)
) STRICT;
-- Items of one folder, in id order (the runner's per-folder listing).
CREATE INDEX items_by_folder ON items (mailbox, folder_id, id);
-- Counts by status with bytes, answered from the index alone.
CREATE INDEX items_by_status ON items (mailbox, status, size);
`,
	// 2: groupware collections and resources (calendars, address books, task lists).
	// kind is '' for mail, else the model.CollectionKind; href/etag are the DAV resource's
	// URL path and version on the target.
	`
ALTER TABLE folders ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN href TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN etag TEXT NOT NULL DEFAULT '';
`,
	// 3: fleet queues (state.Leaser): one row per mailbox of a queue. token grows at every
	// lease; leased/heartbeat/expires are unix nanoseconds (expires NULL unless leased).
	`
CREATE TABLE leases (
	queue     TEXT    NOT NULL,
	mailbox   TEXT    NOT NULL,
	address   TEXT    NOT NULL,
	target    TEXT    NOT NULL,
	status    TEXT    NOT NULL,
	worker    TEXT    NOT NULL DEFAULT '',
	token     INTEGER NOT NULL DEFAULT 0,
	leased    INTEGER,
	heartbeat INTEGER,
	expires   INTEGER,
	attempts  INTEGER NOT NULL DEFAULT 0,
	error     TEXT    NOT NULL DEFAULT '',
	updated   INTEGER NOT NULL,
	PRIMARY KEY (queue, mailbox)
) STRICT;
CREATE INDEX leases_by_status ON leases (queue, status, address);
`,
	// 4: IMAP keywords of mail items (model.Flags.Keywords: sorted, space-separated).
	`
ALTER TABLE items ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
`,
}

// migrate brings the database on conn up to the last of migs, one transaction per
// migration. It returns an error wrapping ErrSchemaTooNew when the database is already
// beyond migs.
func migrate(ctx context.Context, db *sql.DB, migs []string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER NOT NULL PRIMARY KEY,
	applied INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for {
		done, err := migrateOne(ctx, db, migs)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next pending migration, if any. The version is read inside the
// write transaction, so two processes opening the same file never apply one twice.
func migrateOne(ctx context.Context, db *sql.DB, migs []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock in Open)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migs) {
		return false, model.Fatal(fmt.Errorf("%w: the file has schema version %d, this bascule knows up to %d; use a newer bascule",
			ErrSchemaTooNew, version, len(migs)))
	}
	if version == len(migs) {
		return true, tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, migs[version]); err != nil {
		return false, fmt.Errorf("schema migration %d: %w", version+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
		version+1, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("record schema migration %d: %w", version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit schema migration %d: %w", version+1, err)
	}
	return false, nil
}
