package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bascule-migrate/bascule/state"
)

// The fleet queue: a claim is one statement that picks the first free row with
// SELECT … FOR UPDATE SKIP LOCKED (rows another worker is claiming at that moment are
// skipped, not waited for) and updates it. Expiry is judged by the database server's clock.

const leaseColumns = `queue, mailbox, address, target, status, worker, token, leased, heartbeat, expires, attempts, error, updated`

func scanLease(row pgx.Row) (state.Lease, error) {
	var l state.Lease
	var status string
	var leased, hb, exp, upd *time.Time
	var attempts int64
	if err := row.Scan(&l.Queue, &l.Mailbox, &l.Address, &l.Target, &status, &l.Worker, &l.Token,
		&leased, &hb, &exp, &attempts, &l.Error, &upd); err != nil {
		return state.Lease{}, err
	}
	l.Status = state.LeaseStatus(status)
	l.Leased, l.Heartbeat, l.Expires, l.Updated = fromTime(leased), fromTime(hb), fromTime(exp), fromTime(upd)
	l.Attempts = int(attempts)
	return l, nil
}

// Enqueue adds mailboxes to queue as pending, leaving those already there untouched, in one
// transaction; it returns how many were added.
func (s *Store) Enqueue(ctx context.Context, queue string, mailboxes []state.Mailbox) (added int, err error) {
	if len(mailboxes) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	for _, m := range mailboxes {
		b.Queue(`INSERT INTO leases (queue, mailbox, address, target, status, updated)
		VALUES ($1, $2, $3, $4, 'pending', clock_timestamp()) ON CONFLICT (queue, mailbox) DO NOTHING`,
			queue, m.ID, m.Address, m.Target).Exec(func(tag pgconn.CommandTag) error {
			added += int(tag.RowsAffected())
			return nil
		})
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, s.redactErr(fmt.Errorf("state: enqueue: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, s.redactErr(fmt.Errorf("state: enqueue: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, s.redactErr(fmt.Errorf("state: enqueue: commit: %w", err))
	}
	return added, nil
}

// Lease claims the first (by address) pending or expired mailbox of queue for worker.
func (s *Store) Lease(ctx context.Context, queue, worker string, ttl time.Duration) (state.Lease, error) {
	l, err := scanLease(s.pool.QueryRow(ctx, `WITH free AS (
		SELECT queue, mailbox FROM leases
		WHERE queue = $1 AND (status = 'pending' OR (status = 'leased' AND expires < clock_timestamp()))
		ORDER BY address COLLATE "C", mailbox COLLATE "C"
		LIMIT 1
		FOR UPDATE SKIP LOCKED)
	UPDATE leases l SET status = 'leased', worker = $2, token = l.token + 1, leased = clock_timestamp(),
		heartbeat = clock_timestamp(), expires = clock_timestamp() + $3 * interval '1 microsecond',
		attempts = l.attempts + 1, error = '', updated = clock_timestamp()
	FROM free WHERE l.queue = free.queue AND l.mailbox = free.mailbox
	RETURNING `+prefixed("l.", leaseColumns),
		queue, worker, ttl.Microseconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		// Nothing free: finished, or held by live workers (or being claimed right now).
		var open int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM leases WHERE queue = $1 AND status IN ('pending', 'leased')`,
			queue).Scan(&open); err != nil {
			return state.Lease{}, s.redactErr(fmt.Errorf("state: lease: %w", err))
		}
		if open > 0 {
			return state.Lease{}, fmt.Errorf("queue %q: %w", queue, state.ErrNoneFree)
		}
		return state.Lease{}, fmt.Errorf("queue %q: %w", queue, state.ErrQueueFinished)
	}
	if err != nil {
		return state.Lease{}, s.redactErr(fmt.Errorf("state: lease: %w", err))
	}
	return l, nil
}

// Renew extends l to ttl from now (the server's clock), or returns ErrLeaseLost.
func (s *Store) Renew(ctx context.Context, l state.Lease, ttl time.Duration) (state.Lease, error) {
	got, err := scanLease(s.pool.QueryRow(ctx, `UPDATE leases SET heartbeat = clock_timestamp(),
		expires = clock_timestamp() + $1 * interval '1 microsecond', updated = clock_timestamp()
	WHERE queue = $2 AND mailbox = $3 AND worker = $4 AND token = $5 AND status = 'leased'
	RETURNING `+leaseColumns,
		ttl.Microseconds(), l.Queue, l.Mailbox, l.Worker, l.Token))
	if errors.Is(err, pgx.ErrNoRows) {
		return state.Lease{}, fmt.Errorf("%s (worker %s): %w", l.Address, l.Worker, state.ErrLeaseLost)
	}
	if err != nil {
		return state.Lease{}, s.redactErr(fmt.Errorf("state: renew lease of %s: %w", l.Address, err))
	}
	return got, nil
}

// Release ends l with status (done, failed or pending), or returns ErrLeaseLost.
func (s *Store) Release(ctx context.Context, l state.Lease, status state.LeaseStatus, reason string) error {
	switch status {
	case state.LeaseDone, state.LeaseFailed, state.LeasePending:
	default:
		return fmt.Errorf("state: release %s: status %q is not done, failed or pending", l.Address, status)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE leases SET status = $1, error = $2, heartbeat = clock_timestamp(),
		expires = NULL, updated = clock_timestamp()
	WHERE queue = $3 AND mailbox = $4 AND worker = $5 AND token = $6 AND status = 'leased'`,
		string(status), text(reason), l.Queue, l.Mailbox, l.Worker, l.Token)
	if err != nil {
		return s.redactErr(fmt.Errorf("state: release lease of %s: %w", l.Address, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s (worker %s): %w", l.Address, l.Worker, state.ErrLeaseLost)
	}
	return nil
}

// Leases lists the mailboxes of queue ("" = every queue), ordered by queue and address.
func (s *Store) Leases(ctx context.Context, queue string) ([]state.Lease, error) {
	q := `SELECT ` + leaseColumns + ` FROM leases`
	var args []any
	if queue != "" {
		q += ` WHERE queue = $1`
		args = append(args, queue)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY queue COLLATE "C", address COLLATE "C", mailbox COLLATE "C"`, args...)
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: leases: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Lease, error) { return scanLease(row) })
	if err != nil {
		return nil, s.redactErr(fmt.Errorf("state: leases: %w", err))
	}
	return out, nil
}

func prefixed(p, cols string) string {
	var out []string
	for _, c := range strings.Split(cols, ",") {
		out = append(out, p+strings.TrimSpace(c))
	}
	return strings.Join(out, ", ")
}
