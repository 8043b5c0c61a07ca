package model

import (
	"errors"
	"fmt"
	"time"
)

// Error classes. Errors are classified by wrapping one of these sentinels, so callers
// decide with errors.Is:
//   - ErrRetryable: a transient failure (network, 5xx, throttling); the same call may succeed later.
//   - ErrPermanent: this item can never succeed as it is (rejected by the target, malformed beyond
//     repair, gone from the source); record it as failed and go on.
//   - ErrFatal: the run cannot go on (bad credentials, target unreachable after retries, state
//     store broken); stop and exit so the operator can fix it.
var (
	ErrRetryable = errors.New("retryable")
	ErrPermanent = errors.New("permanent")
	ErrFatal     = errors.New("fatal")
	// ErrNotFound is returned (wrapped) when an item or folder does not exist.
	ErrNotFound = errors.New("not found")
	// ErrCursorExpired is returned (wrapped) by a source when a stored delta cursor is no longer
	// valid (Graph 410 Gone); the caller resets the cursor and lists the folder in full.
	ErrCursorExpired = errors.New("delta cursor expired")
)

type classified struct {
	class error
	err   error
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() []error {
	return []error{c.class, c.err}
}

// Retryable marks err as retryable. A nil err stays nil.
func Retryable(err error) error { return wrap(ErrRetryable, err) }

// Permanent marks err as permanent. A nil err stays nil.
func Permanent(err error) error { return wrap(ErrPermanent, err) }

// Fatal marks err as fatal. A nil err stays nil.
func Fatal(err error) error { return wrap(ErrFatal, err) }

func wrap(class, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, class) {
		return err
	}
	return &classified{class: class, err: err}
}

// Throttled is a retryable error that carries how long the server asked us to wait.
type Throttled struct {
	RetryAfter time.Duration
	Err        error
}

func (t *Throttled) Error() string {
	return fmt.Sprintf("throttled (retry after %s): %v", t.RetryAfter, t.Err)
}
func (t *Throttled) Unwrap() []error { return []error{ErrRetryable, t.Err} }
