package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

// The fleet queue on SQLite: workers on one machine sharing one state file (WAL, busy
// timeout). A lease is claimed by one UPDATE in an IMMEDIATE transaction, so two processes
// never claim the same row; expiry is judged by this machine's clock.

var _ state.Leaser = (*Store)(nil)

const leaseColumns = `queue, mailbox, address, target, status, worker, token, leased, heartbeat, expires, attempts, error, updated`

func scanLease(sc interface{ Scan(...any) error }) (state.Lease, error) {
	var l state.Lease
	var status string
	var leased, hb, exp, upd sql.NullInt64
	var attempts int64
	if err := sc.Scan(&l.Queue, &l.Mailbox, &l.Address, &l.Target, &status, &l.Worker, &l.Token,
		&leased, &hb, &exp, &attempts, &l.Error, &upd); err != nil {
		return state.Lease{}, err
	}
	l.Status = state.LeaseStatus(status)
	l.Leased, l.Heartbeat, l.Expires, l.Updated = fromNanos(leased), fromNanos(hb), fromNanos(exp), fromNanos(upd)
	l.Attempts = int(attempts)
	return l, nil
}

// Enqueue adds mailboxes to queue as pending, leaving those already there untouched, in one
// transaction; it returns how many were added.
func (s *Store) Enqueue(ctx context.Context, queue string, mailboxes []state.Mailbox) (added int, err error) {
	if len(mailboxes) == 0 {
		return 0, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("state: enqueue: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := time.Now().UnixNano()
	for _, m := range mailboxes {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (queue, mailbox, address, target, status, updated)
		VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (queue, mailbox) DO NOTHING`, queue, m.ID, m.Address, m.Target, now)
		if err != nil {
			return 0, fmt.Errorf("state: enqueue %s: %w", m.Address, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("state: enqueue %s: %w", m.Address, err)
		}
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("state: enqueue: commit: %w", err)
	}
	return added, nil
}

// Lease claims the first (by address) pending or expired mailbox of queue for worker.
func (s *Store) Lease(ctx context.Context, queue, worker string, ttl time.Duration) (_ state.Lease, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return state.Lease{}, fmt.Errorf("state: lease: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := time.Now()
	l, err := scanLease(tx.QueryRowContext(ctx, `UPDATE leases SET status = 'leased', worker = ?, token = token + 1,
	leased = ?, heartbeat = ?, expires = ?, attempts = attempts + 1, error = '', updated = ?
	WHERE rowid = (SELECT rowid FROM leases WHERE queue = ?
		AND (status = 'pending' OR (status = 'leased' AND expires < ?)) ORDER BY address, mailbox LIMIT 1)
	RETURNING `+leaseColumns,
		worker, now.UnixNano(), now.UnixNano(), now.Add(ttl).UnixNano(), now.UnixNano(), queue, now.UnixNano()))
	if errors.Is(err, sql.ErrNoRows) {
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM leases WHERE queue = ? AND status IN ('pending', 'leased')`,
			queue).Scan(&open); err != nil {
			return state.Lease{}, fmt.Errorf("state: lease: %w", err)
		}
		if err := tx.Rollback(); err != nil {
			return state.Lease{}, fmt.Errorf("state: lease: %w", err)
		}
		if open > 0 {
			return state.Lease{}, fmt.Errorf("queue %q: %w", queue, state.ErrNoneFree)
		}
		return state.Lease{}, fmt.Errorf("queue %q: %w", queue, state.ErrQueueFinished)
	}
	if err != nil {
		return state.Lease{}, fmt.Errorf("state: lease: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return state.Lease{}, fmt.Errorf("state: lease: commit: %w", err)
	}
	return l, nil
}

// Renew extends l to ttl from now, or returns ErrLeaseLost.
func (s *Store) Renew(ctx context.Context, l state.Lease, ttl time.Duration) (state.Lease, error) {
	now := time.Now()
	got, err := scanLease(s.w.QueryRowContext(ctx, `UPDATE leases SET heartbeat = ?, expires = ?, updated = ?
	WHERE queue = ? AND mailbox = ? AND worker = ? AND token = ? AND status = 'leased'
	RETURNING `+leaseColumns,
		now.UnixNano(), now.Add(ttl).UnixNano(), now.UnixNano(), l.Queue, l.Mailbox, l.Worker, l.Token))
	if errors.Is(err, sql.ErrNoRows) {
		return state.Lease{}, fmt.Errorf("%s (worker %s): %w", l.Address, l.Worker, state.ErrLeaseLost)
	}
	if err != nil {
		return state.Lease{}, fmt.Errorf("state: renew lease of %s: %w", l.Address, err)
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
	now := time.Now().UnixNano()
	res, err := s.w.ExecContext(ctx, `UPDATE leases SET status = ?, error = ?, heartbeat = ?, expires = NULL, updated = ?
	WHERE queue = ? AND mailbox = ? AND worker = ? AND token = ? AND status = 'leased'`,
		string(status), reason, now, now, l.Queue, l.Mailbox, l.Worker, l.Token)
	if err != nil {
		return fmt.Errorf("state: release lease of %s: %w", l.Address, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("state: release lease of %s: %w", l.Address, err)
	}
	if n == 0 {
		return fmt.Errorf("%s (worker %s): %w", l.Address, l.Worker, state.ErrLeaseLost)
	}
	return nil
}

// Leases lists the mailboxes of queue ("" = every queue), ordered by queue and address.
func (s *Store) Leases(ctx context.Context, queue string) ([]state.Lease, error) {
	q := `SELECT ` + leaseColumns + ` FROM leases`
	var args []any
	if queue != "" {
		q += ` WHERE queue = ?`
		args = append(args, queue)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY queue, address, mailbox`, args...)
	if err != nil {
		return nil, fmt.Errorf("state: leases: %w", err)
	}
	defer rows.Close()
	var out []state.Lease
	for rows.Next() {
		l, err := scanLease(rows)
		if err != nil {
			return nil, fmt.Errorf("state: leases: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: leases: %w", err)
	}
	return out, nil
}
