package imap

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/model"
)

// drainLimit: a body closed with more than this left unread costs its connection rather
// than the transfer of the rest.
const drainLimit = 256 << 10

// Open streams one message's RFC 5322 source with UID FETCH BODY.PEEK[] (the message stays
// unread), straight from the connection: nothing is buffered. Up to Config.Pipeline Opens
// share a connection with their FETCHes in flight together; each must be read and closed
// for the next one on that connection to get its bytes, so a caller reads a body before it
// opens another. A message no longer there (expunged, or its folder's UIDVALIDITY changed)
// wraps model.ErrNotFound; a body cut short is a read error wrapping model.ErrRetryable.
func (s *Source) Open(ctx context.Context, mbx model.Mailbox, msg model.Message) (io.ReadCloser, error) {
	validity, uid, folder, ok := parseMsgID(msg.ID)
	if !ok {
		return nil, fmt.Errorf("message %q: not an id of the IMAP source: %w", msg.ID, model.ErrNotFound)
	}
	p := s.pool(mbx)
	c, err := p.acquire(ctx, folder)
	if err != nil {
		return nil, err
	}
	if _, v := p.view(c); v != validity {
		p.release(c)
		return nil, fmt.Errorf("message %s: folder %q has UIDVALIDITY %d now: %w", msg.ID, folder, v, model.ErrNotFound)
	}
	stop := c.watch(ctx)
	fail := func(err error) (io.ReadCloser, error) {
		stop()
		p.release(c)
		return nil, err
	}
	what := fmt.Sprintf("UID FETCH %d BODY.PEEK[] in %q", uid, folder)
	for attempt := 0; ; attempt++ {
		cmd := c.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		s.stats.bodyFetches.Add(1)
		m := cmd.Next()
		if m != nil {
			for item := m.Next(); item != nil; item = m.Next() {
				b, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok || b.Literal == nil {
					continue
				}
				return &body{lit: b.Literal, size: b.Literal.Size(), cmd: cmd, c: c, p: p, stop: stop, s: s}, nil
			}
		}
		if err := cmd.Close(); err != nil {
			return fail(c.classify(err, what))
		}
		switch {
		case attempt > 0 && m == nil:
			return fail(fmt.Errorf("message %s: no such UID in %q (expunged): %w", msg.ID, folder, model.ErrNotFound))
		case attempt > 0:
			// A FETCH without the body is no proof that the message is gone.
			return fail(model.Retryable(fmt.Errorf("message %s: the server answered without its body", msg.ID)))
		}
		// Nothing, or no body (Dovecot for a message another session expunged): a session
		// learns of messages appended or expunged since it selected the folder once it
		// asks. Then look again.
		if err := c.c.Noop().Wait(); err != nil {
			return fail(c.classify(err, "NOOP"))
		}
	}
}

// body is one message's literal, read from the connection.
type body struct {
	lit  imap.LiteralReader
	size int64
	n    int64
	cmd  *imapclient.FetchCommand
	c    *conn
	p    *pool
	s    *Source
	stop func() bool

	once   sync.Once
	failed atomic.Bool
}

func (b *body) Read(buf []byte) (int, error) {
	n, err := b.lit.Read(buf)
	b.n += int64(n)
	switch {
	case err == io.EOF && b.n < b.size:
		b.failed.Store(true)
		b.c.broken.Store(true)
		return n, model.Retryable(fmt.Errorf("message body cut after %d of %d bytes: %w", b.n, b.size, io.ErrUnexpectedEOF))
	case err == io.EOF:
		b.s.stats.bodyBytes.Add(b.size)
		return n, io.EOF
	case err != nil:
		b.failed.Store(true)
		b.c.broken.Store(true)
		return n, model.Retryable(fmt.Errorf("reading the message body: %w", err))
	}
	return n, nil
}

// Close ends the FETCH and gives the connection back. A body left with much unread closes
// its connection instead of reading the rest.
func (b *body) Close() error {
	b.once.Do(func() {
		if !b.failed.Load() && b.size-b.n > drainLimit {
			b.c.broken.Store(true)
			b.c.close()
		}
		// Reads fail at once on a closed connection; either way the decoder is let go.
		io.Copy(io.Discard, b.lit)
		if !b.c.broken.Load() {
			if err := b.cmd.Close(); err != nil {
				b.c.classify(err, "UID FETCH")
			}
		}
		b.stop()
		b.p.release(b.c)
	})
	return nil
}
