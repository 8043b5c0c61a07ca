// Package sqlite is the default state.Store: one SQLite file per installation, through
// modernc.org/sqlite (pure Go, no cgo).
//
// Concurrency: SQLite has one writer at a time, so every write goes through a pool of exactly
// one connection (database/sql queues the callers, in Go, honouring their contexts), while
// reads use a separate pool of read-only connections that WAL lets run alongside the writer.
// Write transactions begin IMMEDIATE, so another process on the same file waits on
// busy_timeout instead of failing half way.
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A commit is appended to the WAL in
// the operating system's page cache before PutItems returns, so it survives kill -9 of the
// process (tested by TestCrashSafety); only a power loss or kernel crash can lose the last
// transactions, and even then the file stays consistent (never half a transaction).
//
// The store holds no secrets: the types it stores have no credential fields.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is a state.Store in one SQLite file. Every method is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // exactly one connection: the writer
	r    *sql.DB // read-only connections (== w for ":memory:")

	putItem *sql.Stmt // prepared on w
	getItem *sql.Stmt // prepared on r

	closeOnce sync.Once
	closeErr  error
}

var _ state.Store = (*Store)(nil)

const (
	busyTimeout = 30 * time.Second
	maxReaders  = 4
	memoryPath  = ":memory:"
)

// Open opens the state file at path, creating it (mode 0600) if needed and bringing its
// schema up to date. ":memory:" opens a private in-memory database (for tests; reads then
// share the one writer connection). A file written by a newer Bascule is refused with an
// error wrapping ErrSchemaTooNew (classified model.ErrFatal); any other failure (unreadable
// file, not a database, locked beyond the busy timeout) is returned as it is.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, migrations)
}

func open(ctx context.Context, path string, migs []string) (_ *Store, err error) {
	s := &Store{path: path}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Set("_txlock", "immediate")
	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is safe against kill -9 in WAL mode: see the package comment.
	wq.Add("_pragma", "synchronous(NORMAL)")
	rq := cloneValues(common)
	rq.Set("_query_only", "1")

	if path == memoryPath {
		if s.w, err = sql.Open("sqlite", memoryPath+"?"+wq.Encode()); err != nil {
			return nil, fmt.Errorf("state: open %s: %w", path, err)
		}
		// One connection that never closes: each connection to ":memory:" is its own database.
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxLifetime(0)
		s.w.SetConnMaxIdleTime(0)
		s.r = s.w
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		// Create the file ourselves so that it (and the -wal/-shm files SQLite derives from
		// it) is private to the user: it lists mailboxes, folders and Message-IDs.
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		_ = f.Close()
		dsn := func(q url.Values) string {
			return (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
		}
		if s.w, err = sql.Open("sqlite", dsn(wq)); err != nil {
			return nil, fmt.Errorf("state: open %s: %w", path, err)
		}
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxLifetime(0)
		s.w.SetConnMaxIdleTime(0)
		if s.r, err = sql.Open("sqlite", dsn(rq)); err != nil {
			return nil, fmt.Errorf("state: open %s: %w", path, err)
		}
		s.r.SetMaxOpenConns(maxReaders)
		s.r.SetMaxIdleConns(maxReaders)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if err := migrate(ctx, s.w, migs); err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	if s.putItem, err = s.w.PrepareContext(ctx, putItemSQL); err != nil {
		return nil, fmt.Errorf("state: prepare: %w", err)
	}
	if s.getItem, err = s.r.PrepareContext(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = ? AND id = ?`); err != nil {
		return nil, fmt.Errorf("state: prepare: %w", err)
	}
	return s, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Close runs PRAGMA optimize and closes the database; the WAL is checkpointed into the main
// file when the last connection closes. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, st := range []*sql.Stmt{s.putItem, s.getItem} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.w != nil {
			// Best effort: refreshes the query planner's statistics where they are stale.
			_, _ = s.w.Exec(`PRAGMA optimize`)
		}
		if s.r != nil && s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("state: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// BeginRun records a new run with status "running" and returns its id. Errors from the
// database are returned as they are.
func (s *Store) BeginRun(ctx context.Context, command string) (int64, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO runs (started, command, status) VALUES (?, ?, 'running')`,
		time.Now().UnixNano(), command)
	if err != nil {
		return 0, fmt.Errorf("state: begin run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("state: begin run: %w", err)
	}
	return id, nil
}

// FinishRun records the end of run r.ID: its status, counters and Finished time (now when
// r.Finished is zero); Started and Command keep the values BeginRun recorded. It returns an
// error wrapping model.ErrNotFound when no run has that id.
func (s *Store) FinishRun(ctx context.Context, r state.Run) error {
	fin := r.Finished
	if fin.IsZero() {
		fin = time.Now()
	}
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET finished = ?, status = ?, written = ?, updated = ?,
	deleted = ?, failed = ?, skipped = ?, bytes = ? WHERE id = ?`,
		fin.UnixNano(), r.Status, r.Written, r.Updated, r.Deleted, r.Failed, r.Skipped, r.Bytes, r.ID)
	if err != nil {
		return fmt.Errorf("state: finish run %d: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("state: finish run %d: %w", r.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("state: run %d: %w", r.ID, model.ErrNotFound)
	}
	return nil
}

// Runs lists every run, newest first (an empty store gives none and nil).
func (s *Store) Runs(ctx context.Context) ([]state.Run, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, started, finished, command, status, written, updated,
	deleted, failed, skipped, bytes FROM runs ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		var r state.Run
		var started, finished sql.NullInt64
		if err := rows.Scan(&r.ID, &started, &finished, &r.Command, &r.Status, &r.Written, &r.Updated,
			&r.Deleted, &r.Failed, &r.Skipped, &r.Bytes); err != nil {
			return nil, fmt.Errorf("state: runs: %w", err)
		}
		r.Started, r.Finished = fromNanos(started), fromNanos(finished)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return out, nil
}

// PutMailbox inserts or replaces mailbox m (Updated is set by the store).
func (s *Store) PutMailbox(ctx context.Context, m state.Mailbox) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO mailboxes (id, address, target, status, error, updated)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET address = excluded.address, target = excluded.target,
	status = excluded.status, error = excluded.error, updated = excluded.updated`,
		m.ID, m.Address, m.Target, m.Status, m.Error, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("state: put mailbox %s: %w", m.ID, err)
	}
	return nil
}

// Mailboxes lists every mailbox ordered by address, then id (an empty store gives none).
func (s *Store) Mailboxes(ctx context.Context) ([]state.Mailbox, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, address, target, status, error, updated FROM mailboxes ORDER BY address, id`)
	if err != nil {
		return nil, fmt.Errorf("state: mailboxes: %w", err)
	}
	defer rows.Close()
	var out []state.Mailbox
	for rows.Next() {
		var m state.Mailbox
		var upd sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Address, &m.Target, &m.Status, &m.Error, &upd); err != nil {
			return nil, fmt.Errorf("state: mailboxes: %w", err)
		}
		m.Updated = fromNanos(upd)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: mailboxes: %w", err)
	}
	return out, nil
}

// PutFolder inserts or replaces folder f, cursor included.
func (s *Store) PutFolder(ctx context.Context, f state.Folder) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO folders (mailbox, id, path, target, uidvalidity, cursor, kind, updated)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (mailbox, id) DO UPDATE SET path = excluded.path, target = excluded.target,
	uidvalidity = excluded.uidvalidity, cursor = excluded.cursor, kind = excluded.kind, updated = excluded.updated`,
		f.Mailbox, f.ID, f.Path, f.Target, int64(f.UIDValidity), f.Cursor, string(f.Kind), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("state: put folder %s/%s: %w", f.Mailbox, f.ID, err)
	}
	return nil
}

const folderColumns = `mailbox, id, path, target, uidvalidity, cursor, kind`

func scanFolder(sc interface{ Scan(...any) error }) (state.Folder, error) {
	var f state.Folder
	var uv int64
	var kind string
	err := sc.Scan(&f.Mailbox, &f.ID, &f.Path, &f.Target, &uv, &f.Cursor, &kind)
	f.UIDValidity, f.Kind = uint32(uv), model.CollectionKind(kind)
	return f, err
}

// Folder returns folder id of mailbox, or an error wrapping model.ErrNotFound.
func (s *Store) Folder(ctx context.Context, mailbox, id string) (state.Folder, error) {
	f, err := scanFolder(s.r.QueryRowContext(ctx, `SELECT `+folderColumns+` FROM folders WHERE mailbox = ? AND id = ?`, mailbox, id))
	if errors.Is(err, sql.ErrNoRows) {
		return state.Folder{}, fmt.Errorf("state: folder %s/%s: %w", mailbox, id, model.ErrNotFound)
	}
	if err != nil {
		return state.Folder{}, fmt.Errorf("state: folder %s/%s: %w", mailbox, id, err)
	}
	return f, nil
}

// Folders lists the folders of mailbox ordered by path, then id (none for an unknown mailbox).
func (s *Store) Folders(ctx context.Context, mailbox string) ([]state.Folder, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+folderColumns+` FROM folders WHERE mailbox = ? ORDER BY path, id`, mailbox)
	if err != nil {
		return nil, fmt.Errorf("state: folders of %s: %w", mailbox, err)
	}
	defer rows.Close()
	var out []state.Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, fmt.Errorf("state: folders of %s: %w", mailbox, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: folders of %s: %w", mailbox, err)
	}
	return out, nil
}

const itemColumns = `mailbox, id, folder_id, change_key, status, target_folder, uidvalidity, uid,
	sha256, size, flags, message_id, received, attempts, last_error, updated, kind, href, etag, keywords`

const putItemSQL = `INSERT INTO items (` + itemColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (mailbox, id) DO UPDATE SET folder_id = excluded.folder_id,
	change_key = excluded.change_key, status = excluded.status, target_folder = excluded.target_folder,
	uidvalidity = excluded.uidvalidity, uid = excluded.uid, sha256 = excluded.sha256, size = excluded.size,
	flags = excluded.flags, message_id = excluded.message_id, received = excluded.received,
	attempts = excluded.attempts, last_error = excluded.last_error, updated = excluded.updated,
	kind = excluded.kind, href = excluded.href, etag = excluded.etag, keywords = excluded.keywords`

// encodeReceived writes a source time as RFC 3339 in UTC to the nanosecond (NULL for zero).
func encodeReceived(t time.Time) (sql.NullString, error) {
	if t.IsZero() {
		return sql.NullString{}, nil
	}
	u := t.UTC()
	if y := u.Year(); y < 1 || y > 9999 {
		return sql.NullString{}, fmt.Errorf("received time %v out of range (years 1-9999)", t)
	}
	return sql.NullString{String: u.Format(time.RFC3339Nano), Valid: true}, nil
}

func scanItem(sc interface{ Scan(...any) error }) (state.Item, error) {
	var keywords string
	var it state.Item
	var uv, uid, flags, attempts int64
	var status string
	var received sql.NullString
	var updated sql.NullInt64
	var kind string
	if err := sc.Scan(&it.Mailbox, &it.ID, &it.FolderID, &it.ChangeKey, &status, &it.TargetFolder, &uv, &uid,
		&it.SHA256, &it.Size, &flags, &it.MessageID, &received, &attempts, &it.LastError, &updated,
		&kind, &it.Href, &it.ETag, &keywords); err != nil {
		return state.Item{}, err
	}
	it.Kind = model.CollectionKind(kind)
	it.Status = state.Status(status)
	it.UIDValidity, it.UID = uint32(uv), uint32(uid)
	it.Flags = state.DecodeFlags(flags)
	it.Flags.Keywords = keywords
	it.Attempts = int(attempts)
	it.Updated = fromNanos(updated)
	if received.Valid {
		t, err := time.Parse(time.RFC3339Nano, received.String)
		if err != nil {
			return state.Item{}, fmt.Errorf("item %s/%s: bad received time %q: %w", it.Mailbox, it.ID, received.String, err)
		}
		it.Received = t
	}
	return it, nil
}

// Item returns item id of mailbox, or an error wrapping model.ErrNotFound. Times come back
// in UTC, to the nanosecond.
func (s *Store) Item(ctx context.Context, mailbox, id string) (state.Item, error) {
	it, err := scanItem(s.getItem.QueryRowContext(ctx, mailbox, id))
	if errors.Is(err, sql.ErrNoRows) {
		return state.Item{}, fmt.Errorf("state: item %s/%s: %w", mailbox, id, model.ErrNotFound)
	}
	if err != nil {
		return state.Item{}, fmt.Errorf("state: item %s/%s: %w", mailbox, id, err)
	}
	return it, nil
}

// Items lists the items of source folder folderID of mailbox ordered by id, or every item of
// the mailbox ordered by folder then id when folderID is "". Nothing matching gives none
// and nil. The whole result is held in memory.
func (s *Store) Items(ctx context.Context, mailbox, folderID string) ([]state.Item, error) {
	var rows *sql.Rows
	var err error
	if folderID == "" {
		rows, err = s.r.QueryContext(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = ? ORDER BY folder_id, id`, mailbox)
	} else {
		rows, err = s.r.QueryContext(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = ? AND folder_id = ? ORDER BY id`, mailbox, folderID)
	}
	if err != nil {
		return nil, fmt.Errorf("state: items of %s: %w", mailbox, err)
	}
	defer rows.Close()
	var out []state.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("state: items of %s: %w", mailbox, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: items of %s: %w", mailbox, err)
	}
	return out, nil
}

// PutItems inserts or replaces items in one transaction, through one prepared upsert; when
// it returns nil every item is committed (and survives kill -9), when it returns an error
// none is. Updated is set by the store; items is not modified. When one id appears twice,
// the later entry wins. A Received time outside years 1–9999 fails the whole call with an
// error wrapping model.ErrPermanent; database errors are returned as they are.
func (s *Store) PutItems(ctx context.Context, items []state.Item) (err error) {
	if len(items) == 0 {
		return nil
	}
	received := make([]sql.NullString, len(items))
	for i, it := range items {
		if received[i], err = encodeReceived(it.Received); err != nil {
			return model.Permanent(fmt.Errorf("state: item %s/%s: %w", it.Mailbox, it.ID, err))
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: put items: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stmt := tx.StmtContext(ctx, s.putItem)
	now := time.Now().UnixNano()
	for i, it := range items {
		if _, err := stmt.ExecContext(ctx, it.Mailbox, it.ID, it.FolderID, it.ChangeKey, string(it.Status),
			it.TargetFolder, int64(it.UIDValidity), int64(it.UID), it.SHA256, it.Size, state.EncodeFlags(it.Flags),
			it.MessageID, received[i], int64(it.Attempts), it.LastError, now,
			string(it.Kind), it.Href, it.ETag, it.Flags.Keywords); err != nil {
			return fmt.Errorf("state: put item %s/%s: %w", it.Mailbox, it.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: put items: commit: %w", err)
	}
	return nil
}

// Counts sums items and bytes by status for mailbox ("" = every mailbox). Both maps are
// never nil; a status with no items is absent (and reads as 0).
func (s *Store) Counts(ctx context.Context, mailbox string) (state.Counts, error) {
	var rows *sql.Rows
	var err error
	if mailbox == "" {
		rows, err = s.r.QueryContext(ctx, `SELECT kind, status, count(*), coalesce(sum(size), 0) FROM items GROUP BY kind, status`)
	} else {
		rows, err = s.r.QueryContext(ctx, `SELECT kind, status, count(*), coalesce(sum(size), 0) FROM items WHERE mailbox = ? GROUP BY kind, status`, mailbox)
	}
	if err != nil {
		return state.Counts{}, fmt.Errorf("state: counts: %w", err)
	}
	defer rows.Close()
	c := state.Counts{Items: map[state.Status]int64{}, Bytes: map[state.Status]int64{}, Kinds: map[string]map[state.Status]int64{}}
	for rows.Next() {
		var kind, st string
		var n, b int64
		if err := rows.Scan(&kind, &st, &n, &b); err != nil {
			return state.Counts{}, fmt.Errorf("state: counts: %w", err)
		}
		c.Items[state.Status(st)] += n
		c.Bytes[state.Status(st)] += b
		if kind == "" {
			kind = "mail"
		}
		if c.Kinds[kind] == nil {
			c.Kinds[kind] = map[state.Status]int64{}
		}
		c.Kinds[kind][state.Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return state.Counts{}, fmt.Errorf("state: counts: %w", err)
	}
	return c, nil
}
