package imap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// errStop ends a pass whose consumer stopped iterating.
var errStop = errors.New("stop")

// Changes streams the changes of one folder since cursor (see cursor.go). Nothing is held
// on a connection while a change is yielded: metadata comes in batches of Config.Batch UIDs,
// each read whole before its changes are yielded, so the consumer may Open messages of the
// same mailbox meanwhile. A cursor whose UIDVALIDITY no longer matches (or that the source
// cannot read) yields an error wrapping model.ErrCursorExpired first.
func (s *Source) Changes(ctx context.Context, mbx model.Mailbox, folder model.Folder, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) {
		err := s.changes(ctx, mbx, folder, cursor, func(c extract.Change) bool { return yield(c, nil) })
		if err != nil && !errors.Is(err, errStop) {
			yield(extract.Change{}, folderError(folder, err))
		}
	}
}

func expired(why string) error {
	return fmt.Errorf("%s: %w", why, model.ErrCursorExpired)
}

// msgID is a message's id: UIDVALIDITY, UID and the folder's name on the server.
func msgID(validity, uid uint32, folder string) string {
	return strconv.FormatUint(uint64(validity), 10) + ":" + strconv.FormatUint(uint64(uid), 10) + ":" + folder
}

// parseMsgID reads an id made by msgID.
func parseMsgID(id string) (validity, uid uint32, folder string, ok bool) {
	vs, rest, ok1 := strings.Cut(id, ":")
	us, folder, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || folder == "" {
		return 0, 0, "", false
	}
	v, err1 := strconv.ParseUint(vs, 10, 32)
	u, err2 := strconv.ParseUint(us, 10, 32)
	if err1 != nil || err2 != nil || u == 0 {
		return 0, 0, "", false
	}
	return uint32(v), uint32(u), folder, true
}

func (s *Source) changes(ctx context.Context, mbx model.Mailbox, f model.Folder, cursorStr string, yield func(extract.Change) bool) error {
	p := s.pool(mbx)
	final := func(c string) error {
		if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: c, Final: true}) {
			return errStop
		}
		return nil
	}
	p.mu.Lock()
	noselect := p.noselect[f.ID]
	p.mu.Unlock()
	if noselect {
		return final((&cursor{mode: modeNoSelect}).String())
	}
	var old *cursor
	if cursorStr != "" {
		c, err := parseCursor(cursorStr)
		if err != nil {
			return expired("unreadable cursor")
		}
		if c.mode != modeNoSelect {
			old = c
		}
	}

	// STATUS first: a folder that did not change costs this one command. A connection
	// that dies under it (Dovecot closes a session whose folder changed UIDVALIDITY) is
	// replaced once.
	var (
		st          *imap.StatusData
		all, changd []uint32
		mode        byte
		validity    uint32
		err         error
	)
	for attempt := 0; ; attempt++ {
		var done bool
		st, all, changd, mode, validity, done, err = s.look(ctx, p, f, old)
		if err == nil && done {
			return final(cursorStr)
		}
		if err == nil || attempt >= 2 || !errors.Is(err, model.ErrRetryable) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return err
	}
	changed := changd
	b := newBuilder(mode, validity, uint32(st.UIDNext), st.HighestModSeq)
	if old != nil {
		for _, u := range old.uids {
			if _, present := slices.BinarySearch(all, u); !present {
				if !yield(extract.Change{Kind: extract.Delete, Message: model.Message{ID: msgID(old.validity, u, f.ID), FolderID: f.ID}}) {
					return errStop
				}
			}
		}
	}
	var want []uint32
	switch {
	case old == nil || mode == modeFlags:
		want = all
	default:
		for _, u := range all {
			if !old.has(u) {
				changed = append(changed, u)
			} else {
				b.add(u, "")
			}
		}
		slices.Sort(changed)
		want = slices.Compact(changed)
	}

	for len(want) > 0 {
		n := min(len(want), s.cfg.Batch)
		batch := want[:n]
		want = want[n:]
		metas, err := s.fetchMeta(ctx, p, f.ID, validity, batch, mode == modeCondStore)
		if err != nil {
			return err
		}
		got := map[uint32]bool{}
		for _, m := range metas {
			got[m.uid] = true
			digest := ""
			if mode == modeFlags {
				digest = flagDigest(m.flags)
			}
			b.add(m.uid, digest)
			if old != nil && mode == modeFlags {
				if d, ok := old.digestOf(m.uid); ok && d == digest {
					continue
				}
			}
			msg := model.Message{ID: msgID(validity, m.uid, f.ID), FolderID: f.ID, Received: m.date, Size: m.size,
				Flags: modelFlags(m.flags)}
			if mode == modeCondStore {
				msg.ChangeKey = "m" + strconv.FormatUint(m.modseq, 10)
			} else {
				msg.ChangeKey = "f" + digest
			}
			if !yield(extract.Change{Kind: extract.Upsert, Message: msg}) {
				return errStop
			}
		}
		// A UID listed but gone before its FETCH keeps its old place in the cursor, so the
		// next pass reports its deletion.
		for _, u := range batch {
			if got[u] || old == nil {
				continue
			}
			if d, ok := old.digestOf(u); ok {
				b.add(u, d)
			}
		}
	}
	return final(b.cursor().String())
}

// look reads the folder's STATUS and, unless nothing changed since old (done), its UIDs and
// those changed since old (CONDSTORE).
func (s *Source) look(ctx context.Context, p *pool, f model.Folder, old *cursor) (st *imap.StatusData, all, changed []uint32, mode byte, validity uint32, done bool, err error) {
	c, err := p.acquire(ctx, "")
	if err != nil {
		return nil, nil, nil, 0, 0, false, err
	}
	condstore := p.condStore(c)
	stop := c.watch(ctx)
	if sel, _ := p.view(c); sel == f.ID {
		// STATUS of the folder a session has selected answers from its view: refresh it
		// first (not pipelined: Dovecot would answer the STATUS before the NOOP's sync).
		err = c.c.Noop().Wait()
	}
	if err == nil {
		st, err = c.c.Status(f.ID, &imap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true, HighestModSeq: condstore}).Wait()
	}
	stop()
	p.release(c)
	if err != nil {
		return nil, nil, nil, 0, 0, false, c.classify(err, "STATUS")
	}
	s.stats.statuses.Add(1)
	mode = modeFlags
	if condstore && st.HighestModSeq > 0 {
		mode = modeCondStore
	}
	var messages uint32
	if st.NumMessages != nil {
		messages = *st.NumMessages
	}
	if old != nil {
		switch {
		case old.validity != st.UIDValidity:
			return nil, nil, nil, 0, 0, false, expired(fmt.Sprintf("UIDVALIDITY changed from %d to %d", old.validity, st.UIDValidity))
		case old.mode != mode:
			return nil, nil, nil, 0, 0, false, expired("the server's CONDSTORE support changed")
		case mode == modeCondStore && st.HighestModSeq == old.modseq && uint32(st.UIDNext) == old.next && int(messages) == len(old.uids):
			return st, nil, nil, mode, st.UIDValidity, true, nil
		}
	}
	// Which UIDs are there, which changed.
	c, err = p.acquire(ctx, f.ID)
	if err != nil {
		return nil, nil, nil, 0, 0, false, err
	}
	defer p.release(c)
	all, changed, err = s.search(ctx, p, c, f.ID, st.UIDValidity, mode, old)
	if err != nil {
		return nil, nil, nil, 0, 0, false, err
	}
	_, validity = p.view(c)
	if old != nil && old.validity != validity {
		return nil, nil, nil, 0, 0, false, expired(fmt.Sprintf("UIDVALIDITY changed from %d to %d", old.validity, validity))
	}
	return st, all, changed, mode, validity, false, nil
}

// search returns every UID of the folder and, in CONDSTORE mode with a cursor, those whose
// MODSEQ is above the cursor's.
func (s *Source) search(ctx context.Context, p *pool, c *conn, folder string, validity uint32, mode byte, old *cursor) (all, changed []uint32, err error) {
	if _, v := p.view(c); v != validity {
		// The connection was on the folder before it was recreated: look again.
		if err := p.examine(ctx, c, folder); err != nil {
			return nil, nil, err
		}
		if _, v := p.view(c); v != validity {
			return nil, nil, model.Retryable(fmt.Errorf("UIDVALIDITY changed during the pass (%d, then %d)", validity, v))
		}
	}
	stop := c.watch(ctx)
	defer stop()
	// A connection that had the folder selected already sees other sessions' changes
	// only once it asks: NOOP brings its view up to date.
	if err := c.c.Noop().Wait(); err != nil {
		return nil, nil, c.classify(err, "NOOP")
	}
	var opts *imap.SearchOptions
	if p.s.has(c, imap.CapESearch) || p.s.has(c, imap.CapIMAP4rev2) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := c.c.UIDSearch(&imap.SearchCriteria{}, opts).Wait()
	if err != nil {
		return nil, nil, c.classify(err, "UID SEARCH ALL")
	}
	s.stats.searches.Add(1)
	all = uids(data)
	if mode == modeCondStore && old != nil {
		data, err := c.c.UIDSearch(&imap.SearchCriteria{ModSeq: &imap.SearchCriteriaModSeq{ModSeq: old.modseq + 1}}, opts).Wait()
		if err != nil {
			return nil, nil, c.classify(err, "UID SEARCH MODSEQ")
		}
		s.stats.searches.Add(1)
		changed = uids(data)
	}
	return all, changed, nil
}

func uids(d *imap.SearchData) []uint32 {
	var out []uint32
	for _, u := range d.AllUIDs() {
		out = append(out, uint32(u))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// meta is one message's metadata.
type meta struct {
	uid    uint32
	flags  []imap.Flag
	date   time.Time
	size   int64
	modseq uint64
}

// fetchMeta reads the metadata of uids (which the server may no longer all have).
func (s *Source) fetchMeta(ctx context.Context, p *pool, folder string, validity uint32, list []uint32, modseq bool) ([]meta, error) {
	c, err := p.acquire(ctx, folder)
	if err != nil {
		return nil, err
	}
	defer p.release(c)
	if _, v := p.view(c); v != validity {
		return nil, model.Retryable(fmt.Errorf("UIDVALIDITY changed during the pass (%d, then %d)", validity, v))
	}
	var set imap.UIDSet
	for _, u := range list {
		set.AddNum(imap.UID(u))
	}
	stop := c.watch(ctx)
	defer stop()
	bufs, err := c.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, ModSeq: modseq}).Collect()
	if err != nil {
		return nil, c.classify(err, "UID FETCH (FLAGS INTERNALDATE RFC822.SIZE)")
	}
	s.stats.metaFetches.Add(1)
	out := make([]meta, 0, len(bufs))
	for _, b := range bufs {
		if b.UID == 0 {
			continue
		}
		out = append(out, meta{uid: uint32(b.UID), flags: b.Flags, date: b.InternalDate, size: b.RFC822Size, modseq: b.ModSeq})
	}
	slices.SortFunc(out, func(a, b meta) int { return int(int64(a.uid) - int64(b.uid)) })
	return out, nil
}

// modelFlags maps the IMAP system flags to the model's and keeps the keywords (every flag
// not starting with a backslash), sorted, without duplicates.
func modelFlags(flags []imap.Flag) model.Flags {
	var f model.Flags
	var kw []string
	for _, x := range flags {
		if x != "" && x[0] != '\\' {
			kw = append(kw, string(x))
			continue
		}
		switch {
		case strings.EqualFold(string(x), string(imap.FlagSeen)):
			f.Seen = true
		case strings.EqualFold(string(x), string(imap.FlagFlagged)):
			f.Flagged = true
		case strings.EqualFold(string(x), string(imap.FlagAnswered)):
			f.Answered = true
		case strings.EqualFold(string(x), string(imap.FlagDraft)):
			f.Draft = true
		}
	}
	slices.Sort(kw)
	f.Keywords = strings.Join(slices.Compact(kw), " ")
	return f
}
