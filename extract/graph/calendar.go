package graph

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Calendars have no whole-calendar delta in Graph v1.0 (calendarView/delta is bounded by
// a window and returns expanded occurrences; events/delta is beta only). A pass therefore
// lists the calendar's events with $select=id,changeKey,type,hasAttachments (series
// masters and single instances; 1 request per 1,000 events), compares the changeKeys
// with those the cursor recorded, fetches new and changed events in full (1 request each,
// 2 if Graph refuses two $expand at once) and reports ids no longer listed as Deletes.
// A pass with no change costs the listing alone.
//
// The cursor is Bascule's own: "cal1." + base64url(deflate(calendar id, then the sorted
// event ids, each as the length of the prefix it shares with the previous id and the rest,
// with 8 bytes of SHA-256 of its changeKey)). Event ids of one mailbox share long prefixes,
// so an entry costs about 40 bytes: ~400 KB for a calendar of 10,000 series and single
// events, stored in the state store's cursor column.
const calCursorPrefix = "cal1."

// maxCursorBytes bounds what a cursor may inflate to (a corrupted cursor must not make
// Bascule allocate without limit): over a million events.
const maxCursorBytes = 64 << 20

// eventSelect is every structural property of a v1.0 event (as the SDK knows them) plus
// cancelledOccurrences, which Graph only returns when selected.
var eventSelect = func() string {
	nav := map[string]bool{"attachments": true, "calendar": true, "exceptionOccurrences": true, "extensions": true,
		"instances": true, "multiValueExtendedProperties": true, "singleValueExtendedProperties": true}
	var keys []string
	for k := range models.NewEvent().GetFieldDeserializers() {
		if !nav[k] && !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	if !slices.Contains(keys, "cancelledOccurrences") {
		keys = append(keys, "cancelledOccurrences")
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}()

// calState is the content of a calendar cursor: event id → changeKey digest.
type calState map[string]uint64

func changeKeyDigest(ck string) uint64 {
	sum := sha256.Sum256([]byte(ck))
	return binary.BigEndian.Uint64(sum[:8])
}

func encodeCalCursor(calID string, st calState) string {
	ids := make([]string, 0, len(st))
	for id := range st {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var raw bytes.Buffer
	raw.Write(binary.AppendUvarint(nil, uint64(len(calID))))
	raw.WriteString(calID)
	raw.Write(binary.AppendUvarint(nil, uint64(len(ids))))
	prev := ""
	var buf [binary.MaxVarintLen64]byte
	for _, id := range ids {
		n := 0
		for n < len(prev) && n < len(id) && prev[n] == id[n] {
			n++
		}
		raw.Write(buf[:binary.PutUvarint(buf[:], uint64(n))])
		raw.Write(buf[:binary.PutUvarint(buf[:], uint64(len(id)-n))])
		raw.WriteString(id[n:])
		binary.BigEndian.PutUint64(buf[:8], st[id])
		raw.Write(buf[:8])
		prev = id
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(raw.Bytes())
	w.Close()
	return calCursorPrefix + base64.RawURLEncoding.EncodeToString(z.Bytes())
}

var errBadCursor = errors.New("unreadable calendar cursor")

// decodeCalCursor reads a cursor made by encodeCalCursor for calID. Anything else (another
// calendar's cursor, a Graph link, damaged bytes) is an error.
func decodeCalCursor(calID, cursor string) (calState, error) {
	rest, ok := strings.CutPrefix(cursor, calCursorPrefix)
	if !ok {
		return nil, errBadCursor
	}
	z, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, errBadCursor
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), maxCursorBytes+1))
	if err != nil || len(raw) > maxCursorBytes {
		return nil, errBadCursor
	}
	r := bytes.NewReader(raw)
	str := func(n uint64) (string, bool) {
		if n > uint64(r.Len()) {
			return "", false
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return string(b), err == nil
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, errBadCursor
	}
	cal, ok := str(n)
	if !ok || cal != calID {
		return nil, errBadCursor
	}
	count, err := binary.ReadUvarint(r)
	// An entry takes at least 10 bytes (two lengths and the digest).
	if err != nil || count > uint64(r.Len()/10) {
		return nil, errBadCursor
	}
	st := make(calState, count)
	prev := ""
	for range count {
		shared, err1 := binary.ReadUvarint(r)
		tail, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || shared > uint64(len(prev)) {
			return nil, errBadCursor
		}
		t, ok := str(tail)
		if !ok {
			return nil, errBadCursor
		}
		id := prev[:shared] + t
		var d [8]byte
		if _, err := io.ReadFull(r, d[:]); err != nil || id == "" {
			return nil, errBadCursor
		}
		st[id] = binary.BigEndian.Uint64(d[:])
		prev = id
	}
	if r.Len() != 0 {
		return nil, errBadCursor
	}
	return st, nil
}

// listed is one event of the cheap listing.
type listed struct {
	id, changeKey, typ string
	hasAttachments     bool
}

// calendarRecords runs one pass over a calendar (see calCursorPrefix).
func (s *Source) calendarRecords(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string, yield func(extract.Change, error) bool) {
	what := fmt.Sprintf("events of calendar %q of %s", col.Name, mbx.Address)
	old := calState{}
	if cursor != "" {
		var err error
		if old, err = decodeCalCursor(col.ID, cursor); err != nil {
			yield(extract.Change{}, fmt.Errorf("graph: %s: %w: %w", what, err, model.ErrCursorExpired))
			return
		}
	}

	// The listing: masters and single instances with their changeKeys.
	var todo []listed
	seen := map[string]bool{}
	link := s.rawURL("users", mbx.ID, "calendars", col.ID, "events") + "?$select=id,changeKey,type,hasAttachments&$top=1000"
	for link != "" {
		b, err := s.getBytes(ctx, link, "application/json", `IdType="ImmutableId"`)
		if err != nil {
			yield(extract.Change{}, classify(err, "listing "+what, permCalendars))
			return
		}
		p, err := parsePage(b)
		if err != nil {
			yield(extract.Change{}, fmt.Errorf("graph: listing %s: %w", what, err))
			return
		}
		for _, raw := range p.Value {
			var h head
			if err := json.Unmarshal(raw, &h); err != nil || h.ID == "" {
				continue
			}
			if h.Type == "occurrence" || h.Type == "exception" || seen[h.ID] {
				continue // carried by their series master
			}
			seen[h.ID] = true
			if d, ok := old[h.ID]; ok && d == changeKeyDigest(h.ChangeKey) {
				continue
			}
			todo = append(todo, listed{id: h.ID, changeKey: h.ChangeKey, typ: h.Type, hasAttachments: h.HasAttachments})
		}
		link = p.Next
	}

	cur := make(calState, len(old)+len(todo))
	for id, d := range old {
		cur[id] = d
	}
	var gone []string
	for id := range old {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		delete(cur, id)
		if !yield(extract.Change{Kind: extract.Delete, Record: model.Record{ID: id, CollectionID: col.ID, Kind: model.KindCalendar}}, nil) {
			return
		}
	}

	// Full fetches, a few at a time, in listing order; a checkpoint every page.
	stopped := false
	n := 0
	fetchOrdered(ctx, len(todo), fetchParallel,
		func(ctx context.Context, i int) (model.Record, error) {
			return s.fetchEvent(ctx, mbx, col, todo[i])
		},
		func(i int, rec model.Record, err error) bool {
			id := todo[i].id
			switch {
			case errors.Is(err, model.ErrNotFound) && errors.Is(err, model.ErrPermanent):
				// Deleted between the listing and the fetch.
				if _, had := old[id]; had {
					delete(cur, id)
					if !yield(extract.Change{Kind: extract.Delete, Record: model.Record{ID: id, CollectionID: col.ID, Kind: model.KindCalendar}}, nil) {
						stopped = true
						return false
					}
				}
				return true
			case err != nil:
				yield(extract.Change{}, err)
				stopped = true
				return false
			}
			cur[id] = changeKeyDigest(rec.ChangeKey)
			if !yield(extract.Change{Kind: extract.Upsert, Record: rec}, nil) {
				stopped = true
				return false
			}
			if n++; n%s.cfg.PageSize == 0 && i < len(todo)-1 {
				if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: encodeCalCursor(col.ID, cur)}, nil) {
					stopped = true
					return false
				}
			}
			return true
		})
	if stopped {
		return
	}
	yield(extract.Change{Kind: extract.Checkpoint, Cursor: encodeCalCursor(col.ID, cur), Final: true}, nil)
}

// fetchEvent GETs one event in full: every property, cancelledOccurrences, its exceptions
// (full events) for a series master, its attachments (with content) when it has some, as
// one JSON object. Times stay in UTC (no Prefer: outlook.timezone).
func (s *Source) fetchEvent(ctx context.Context, mbx model.Mailbox, col model.Collection, ev listed) (model.Record, error) {
	what := fmt.Sprintf("event %s of calendar %q of %s", ev.id, col.Name, mbx.Address)
	base := s.rawURL("users", mbx.ID, "calendars", col.ID, "events", ev.id)
	var expand []string
	if ev.typ == "seriesMaster" {
		expand = append(expand, "exceptionOccurrences")
	}
	if ev.hasAttachments {
		expand = append(expand, "attachments")
	}
	get := func(expand []string) ([]byte, error) {
		u := base + "?$select=" + eventSelect
		if len(expand) > 0 {
			u += "&$expand=" + strings.Join(expand, ",")
		}
		return withRetry(ctx, func() ([]byte, error) {
			return s.getBytes(ctx, u, "application/json", `IdType="ImmutableId"`)
		})
	}
	var b []byte
	var err error
	if len(expand) < 2 || !s.oneExpand.Load() {
		b, err = get(expand)
		if err != nil && len(expand) == 2 {
			if cerr := classify(err, what, permCalendars); !errors.Is(cerr, model.ErrRetryable) && !errors.Is(cerr, model.ErrNotFound) && !errors.Is(cerr, model.ErrFatal) {
				// A 400 for the double expand: Graph wants them one at a time.
				s.oneExpand.Store(true)
				b, err = nil, nil
			}
		}
	}
	if b == nil && err == nil {
		if b, err = get(expand[:1]); err == nil {
			var atts json.RawMessage
			if atts, err = s.eventAttachments(ctx, base); err == nil {
				b, err = setMember(b, "attachments", atts)
			}
		}
	}
	if err != nil {
		return model.Record{}, classify(err, what, permCalendars)
	}
	var h head
	if err := json.Unmarshal(b, &h); err != nil || h.ID == "" {
		return model.Record{}, model.Retryable(fmt.Errorf("graph: %s: malformed event", what))
	}
	if h.ChangeKey == "" {
		h.ChangeKey = ev.changeKey
	}
	return model.Record{ID: ev.id, ChangeKey: h.ChangeKey, CollectionID: col.ID, Kind: model.KindCalendar,
		Payload: b, Subject: h.Subject}, nil
}

// eventAttachments lists an event's attachments (with their content) as a JSON array.
func (s *Source) eventAttachments(ctx context.Context, eventURL string) (json.RawMessage, error) {
	var all []json.RawMessage
	for link := eventURL + "/attachments"; link != ""; {
		b, err := withRetry(ctx, func() ([]byte, error) { return s.getBytes(ctx, link, "application/json") })
		if err != nil {
			return nil, err
		}
		p, err := parsePage(b)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Value...)
		link = p.Next
	}
	if all == nil {
		all = []json.RawMessage{}
	}
	return json.Marshal(all)
}
