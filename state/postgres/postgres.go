// Package postgres is the fleet's state.Store: one PostgreSQL database shared by every
// `bascule worker` of a migration, through pgx (pgxpool). It stores what state/sqlite
// stores, to the same contract (the statetest conformance suite runs on both), and offers
// the fleet queue (state.Leaser) with SELECT … FOR UPDATE SKIP LOCKED.
//
// Durability: PutItems commits one transaction; once it has returned, the items survive the
// death of the worker (and, with PostgreSQL's default fsync and synchronous_commit, of the
// database server's machine).
//
// Secrets: the DSN may hold a password. It is never part of an error this package returns
// nor of String (see Redact); prefer a DSN without one and the password in PGPASSWORD or a
// ~/.pgpass file, which pgx reads.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// Store is a state.Store and state.Leaser in a PostgreSQL database. Every method is safe for
// concurrent use, by many processes on the same database.
type Store struct {
	pool     *pgxpool.Pool
	name     string // the DSN without its password
	password string

	closeOnce sync.Once
}

var (
	_ state.Store  = (*Store)(nil)
	_ state.Leaser = (*Store)(nil)
)

// IsDSN reports whether s names a PostgreSQL database (postgres:// or postgresql:// URL)
// rather than a file path.
func IsDSN(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)`)

// Redact returns dsn with its password (in the URL's user info or a password parameter)
// replaced by "xxxxx": what may be printed or logged.
func Redact(dsn string) string {
	s := dsn
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		s = u.String()
	}
	// Whatever the form (key=value, or a URL that does not parse), hide anything after
	// "password=" and between "user:" and "@".
	s = kvPassword.ReplaceAllString(s, "${1}xxxxx")
	if i := strings.Index(s, "://"); i >= 0 {
		auth := s[i+3:]
		if j := strings.IndexAny(auth, "/?"); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			if c := strings.Index(auth[:at], ":"); c >= 0 && auth[c+1:at] != "xxxxx" {
				s = s[:i+3+c+1] + "xxxxx" + s[i+3+at:]
			}
		}
	}
	return s
}

// redactErr returns err with every occurrence of the password removed from its text; the
// chain (errors.Is/As) is kept.
func (s *Store) redactErr(err error) error {
	return redact(err, s.password)
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

// dsnPassword digs the password out of a DSN, to keep it out of errors.
func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// Open connects to the database dsn names (a postgres:// URL or key=value string, as pgx
// reads it; pool_max_conns (default 8) and the other pgxpool parameters work), checks it answers and
// brings its schema up to date. A database written by a newer Bascule is refused with an
// error wrapping ErrSchemaTooNew (classified model.ErrFatal); any other failure is returned
// with the password removed from its text.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, migrations)
}

func open(ctx context.Context, dsn string, migs []string) (_ *Store, err error) {
	s := &Store{name: Redact(dsn), password: dsnPassword(dsn)}
	defer func() { err = s.redactErr(err) }()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's own message may quote the DSN: give ours.
		return nil, fmt.Errorf("state: %s is not a valid PostgreSQL DSN (postgres://user@host:port/database?sslmode=…)", s.name)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// A fleet multiplies this by its workers: keep it within PostgreSQL's
		// max_connections (100 by default).
		cfg.MaxConns = 8
	}
	if s.password == "" {
		s.password = cfg.ConnConfig.Password
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", s.name, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("state: open %s: %w", s.name, err)
	}
	if err := migrate(ctx, s.pool, migs); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("state: %s: %w", s.name, err)
	}
	return s, nil
}

// String returns the DSN without its password.
func (s *Store) String() string { return s.name }

// Close closes the pool (waiting for connections in use to be released). Calling it again
// does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.pool != nil {
			s.pool.Close()
		}
	})
	return nil
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

func fromTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// text makes s storable in a TEXT column: valid UTF-8 without NUL (errors and reasons only;
// exact values that may hold any byte use BYTEA).
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// BeginRun records a new run with status "running" and returns its id.
func (s *Store) BeginRun(ctx context.Context, command string) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO runs (started, command, status) VALUES ($1, $2, 'running') RETURNING id`,
		time.Now().UnixNano(), text(command)).Scan(&id); err != nil {
		return 0, s.redactErr(fmt.Errorf("state: begin run: %w", err))
	}
	return id, nil
}

// FinishRun records the end of run r.ID (Finished = now when zero); model.ErrNotFound when
// no run has that id.
func (s *Store) FinishRun(ctx context.Context, r state.Run) error {
	fin := r.Finished
	if fin.IsZero() {
		fin = time.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET finished = $1, status = $2, written = $3, updated = $4,
	deleted = $5, failed = $6, skipped = $7, bytes = $8 WHERE id = $9`,
		fin.UnixNano(), text(r.Status), r.Written, r.Updated, r.Deleted, r.Failed, r.Skipped, r.Bytes, r.ID)
	if err != nil {
		return s.redactErr(fmt.Errorf("state: finish run %d: %w", r.ID, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("state: run %d: %w", r.ID, model.ErrNotFound)
	}
	return nil
}

// Runs lists every run, newest first.
func (s *Store) Runs(ctx context.Context) ([]state.Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started, finished, command, status, written, updated,
	deleted, failed, skipped, bytes FROM runs ORDER BY id DESC`)
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: runs: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Run, error) {
		var r state.Run
		var started, finished *int64
		err := row.Scan(&r.ID, &started, &finished, &r.Command, &r.Status, &r.Written, &r.Updated,
			&r.Deleted, &r.Failed, &r.Skipped, &r.Bytes)
		r.Started, r.Finished = fromNanos(started), fromNanos(finished)
		return r, err
	})
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: runs: %w", err))
	}
	return out, nil
}

// PutMailbox inserts or replaces mailbox m (Updated is set by the store).
func (s *Store) PutMailbox(ctx context.Context, m state.Mailbox) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO mailboxes (id, address, target, status, error, updated)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (id) DO UPDATE SET address = excluded.address, target = excluded.target,
	status = excluded.status, error = excluded.error, updated = excluded.updated`,
		m.ID, m.Address, m.Target, m.Status, text(m.Error), time.Now().UnixNano())
	if err != nil {
		return s.redactErr(fmt.Errorf("state: put mailbox %s: %w", m.ID, err))
	}
	return nil
}

// Mailboxes lists every mailbox ordered by address, then id (byte order).
func (s *Store) Mailboxes(ctx context.Context) ([]state.Mailbox, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, address, target, status, error, updated FROM mailboxes
	ORDER BY address COLLATE "C", id COLLATE "C"`)
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: mailboxes: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Mailbox, error) {
		var m state.Mailbox
		var upd *int64
		err := row.Scan(&m.ID, &m.Address, &m.Target, &m.Status, &m.Error, &upd)
		m.Updated = fromNanos(upd)
		return m, err
	})
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: mailboxes: %w", err))
	}
	return out, nil
}

// PutFolder inserts or replaces folder f, cursor included.
func (s *Store) PutFolder(ctx context.Context, f state.Folder) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO folders (mailbox, id, path, target, uidvalidity, cursor, kind, updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (mailbox, id) DO UPDATE SET path = excluded.path, target = excluded.target,
	uidvalidity = excluded.uidvalidity, cursor = excluded.cursor, kind = excluded.kind, updated = excluded.updated`,
		f.Mailbox, f.ID, f.Path, f.Target, int64(f.UIDValidity), f.Cursor, string(f.Kind), time.Now().UnixNano())
	if err != nil {
		return s.redactErr(fmt.Errorf("state: put folder %s/%s: %w", f.Mailbox, f.ID, err))
	}
	return nil
}

const folderColumns = `mailbox, id, path, target, uidvalidity, cursor, kind`

func scanFolder(row pgx.Row) (state.Folder, error) {
	var f state.Folder
	var uv int64
	var kind string
	err := row.Scan(&f.Mailbox, &f.ID, &f.Path, &f.Target, &uv, &f.Cursor, &kind)
	f.UIDValidity, f.Kind = uint32(uv), model.CollectionKind(kind)
	return f, err
}

// Folder returns folder id of mailbox, or an error wrapping model.ErrNotFound.
func (s *Store) Folder(ctx context.Context, mailbox, id string) (state.Folder, error) {
	f, err := scanFolder(s.pool.QueryRow(ctx, `SELECT `+folderColumns+` FROM folders WHERE mailbox = $1 AND id = $2`, mailbox, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return state.Folder{}, fmt.Errorf("state: folder %s/%s: %w", mailbox, id, model.ErrNotFound)
	}
	if err != nil {
		return state.Folder{}, s.redactErr(fmt.Errorf("state: folder %s/%s: %w", mailbox, id, err))
	}
	return f, nil
}

// Folders lists the folders of mailbox ordered by path, then id.
func (s *Store) Folders(ctx context.Context, mailbox string) ([]state.Folder, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+folderColumns+` FROM folders WHERE mailbox = $1
	ORDER BY path COLLATE "C", id COLLATE "C"`, mailbox)
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: folders of %s: %w", mailbox, err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Folder, error) { return scanFolder(row) })
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: folders of %s: %w", mailbox, err))
	}
	return out, nil
}

const itemColumns = `mailbox, id, folder_id, change_key, status, target_folder, uidvalidity, uid,
	sha256, size, flags, message_id, received, attempts, last_error, updated, kind, href, etag, keywords`

const putItemSQL = `INSERT INTO items (` + itemColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	ON CONFLICT (mailbox, id) DO UPDATE SET folder_id = excluded.folder_id,
	change_key = excluded.change_key, status = excluded.status, target_folder = excluded.target_folder,
	uidvalidity = excluded.uidvalidity, uid = excluded.uid, sha256 = excluded.sha256, size = excluded.size,
	flags = excluded.flags, message_id = excluded.message_id, received = excluded.received,
	attempts = excluded.attempts, last_error = excluded.last_error, updated = excluded.updated,
	kind = excluded.kind, href = excluded.href, etag = excluded.etag, keywords = excluded.keywords`

func encodeReceived(t time.Time) (*string, error) {
	if t.IsZero() {
		return nil, nil
	}
	u := t.UTC()
	if y := u.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("received time %v out of range (years 1-9999)", t)
	}
	s := u.Format(time.RFC3339Nano)
	return &s, nil
}

func scanItem(row pgx.Row) (state.Item, error) {
	var keywords string
	var it state.Item
	var uv, uid, flags, attempts int64
	var status, kind string
	var received *string
	var updated *int64
	var msgID []byte
	if err := row.Scan(&it.Mailbox, &it.ID, &it.FolderID, &it.ChangeKey, &status, &it.TargetFolder, &uv, &uid,
		&it.SHA256, &it.Size, &flags, &msgID, &received, &attempts, &it.LastError, &updated,
		&kind, &it.Href, &it.ETag, &keywords); err != nil {
		return state.Item{}, err
	}
	it.MessageID = string(msgID)
	it.Kind = model.CollectionKind(kind)
	it.Status = state.Status(status)
	it.UIDValidity, it.UID = uint32(uv), uint32(uid)
	it.Flags = state.DecodeFlags(flags)
	it.Flags.Keywords = keywords
	it.Attempts = int(attempts)
	it.Updated = fromNanos(updated)
	if received != nil {
		t, err := time.Parse(time.RFC3339Nano, *received)
		if err != nil {
			return state.Item{}, fmt.Errorf("item %s/%s: bad received time %q: %w", it.Mailbox, it.ID, *received, err)
		}
		it.Received = t
	}
	return it, nil
}

// Item returns item id of mailbox, or an error wrapping model.ErrNotFound.
func (s *Store) Item(ctx context.Context, mailbox, id string) (state.Item, error) {
	it, err := scanItem(s.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = $1 AND id = $2`, mailbox, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return state.Item{}, fmt.Errorf("state: item %s/%s: %w", mailbox, id, model.ErrNotFound)
	}
	if err != nil {
		return state.Item{}, s.redactErr(fmt.Errorf("state: item %s/%s: %w", mailbox, id, err))
	}
	return it, nil
}

// Items lists the items of source folder folderID of mailbox ordered by id, or every item of
// the mailbox ordered by folder then id when folderID is "". The result is held in memory.
func (s *Store) Items(ctx context.Context, mailbox, folderID string) ([]state.Item, error) {
	var rows pgx.Rows
	var err error
	if folderID == "" {
		rows, err = s.pool.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = $1 ORDER BY folder_id, id`, mailbox)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE mailbox = $1 AND folder_id = $2 ORDER BY id`, mailbox, folderID)
	}
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: items of %s: %w", mailbox, err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Item, error) { return scanItem(row) })
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: items of %s: %w", mailbox, err))
	}
	return out, nil
}

// PutItems inserts or replaces items in one transaction (the statements pipelined in one
// batch); when it returns nil every item is committed, when it returns an error none is.
// When one id appears twice, the later entry wins. A Received time outside years 1–9999
// fails the whole call with an error wrapping model.ErrPermanent.
func (s *Store) PutItems(ctx context.Context, items []state.Item) (err error) {
	if len(items) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	now := time.Now().UnixNano()
	for _, it := range items {
		rec, err := encodeReceived(it.Received)
		if err != nil {
			return model.Permanent(fmt.Errorf("state: item %s/%s: %w", it.Mailbox, it.ID, err))
		}
		b.Queue(putItemSQL, it.Mailbox, it.ID, it.FolderID, it.ChangeKey, string(it.Status),
			it.TargetFolder, int64(it.UIDValidity), int64(it.UID), it.SHA256, it.Size, state.EncodeFlags(it.Flags),
			[]byte(it.MessageID), rec, int64(it.Attempts), text(it.LastError), now,
			string(it.Kind), it.Href, it.ETag, it.Flags.Keywords)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.redactErr(fmt.Errorf("state: put items: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return s.redactErr(fmt.Errorf("state: put items: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return s.redactErr(fmt.Errorf("state: put items: commit: %w", err))
	}
	return nil
}

// Counts sums items and bytes by status for mailbox ("" = every mailbox).
func (s *Store) Counts(ctx context.Context, mailbox string) (state.Counts, error) {
	var rows pgx.Rows
	var err error
	if mailbox == "" {
		rows, err = s.pool.Query(ctx, `SELECT kind, status, count(*), coalesce(sum(size), 0)::bigint FROM items GROUP BY kind, status`)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT kind, status, count(*), coalesce(sum(size), 0)::bigint FROM items WHERE mailbox = $1 GROUP BY kind, status`, mailbox)
	}
	if err != nil {
		return state.Counts{}, s.redactErr(fmt.Errorf("state: counts: %w", err))
	}
	defer rows.Close()
	c := state.Counts{Items: map[state.Status]int64{}, Bytes: map[state.Status]int64{}, Kinds: map[string]map[state.Status]int64{}}
	for rows.Next() {
		var kind, st string
		var n, b int64
		if err := rows.Scan(&kind, &st, &n, &b); err != nil {
			return state.Counts{}, s.redactErr(fmt.Errorf("state: counts: %w", err))
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
		return state.Counts{}, s.redactErr(fmt.Errorf("state: counts: %w", err))
	}
	return c, nil
}
