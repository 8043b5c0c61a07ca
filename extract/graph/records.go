package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// fetchParallel is how many per-item requests (photos, checklists, events) run at once for
// one collection: the mailbox's concurrency limit, which the transport enforces anyway.
const fetchParallel = 4

// page is one page of a Graph collection or delta answer, items left raw.
type page struct {
	Value []json.RawMessage `json:"value"`
	Next  string            `json:"@odata.nextLink"`
	Delta string            `json:"@odata.deltaLink"`
}

// head is what Bascule reads from an item's JSON; the payload keeps everything.
type head struct {
	ID             string          `json:"id"`
	ChangeKey      string          `json:"changeKey"`
	ETag           string          `json:"@odata.etag"`
	Removed        json.RawMessage `json:"@removed"`
	DisplayName    string          `json:"displayName"`
	Subject        string          `json:"subject"`
	Title          string          `json:"title"`
	LastModified   string          `json:"lastModifiedDateTime"`
	Type           string          `json:"type"`
	HasAttachments bool            `json:"hasAttachments"`
}

func parsePage(b []byte) (page, error) {
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		return p, model.Retryable(fmt.Errorf("malformed page: %w", err))
	}
	return p, nil
}

// deltaRecords streams a contact folder's or a To Do list's delta, like Changes does for
// mail: the cursor is Graph's nextLink or deltaLink.
func (s *Source) deltaRecords(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string, yield func(extract.Change, error) bool) {
	var what, perm string
	link := cursor
	if col.Kind == model.KindContacts {
		what, perm = fmt.Sprintf("contact delta of folder %q of %s", col.Name, mbx.Address), permContacts
		if link == "" {
			link = s.rawURL("users", mbx.ID, "contactFolders", col.ID, "contacts", "delta")
		}
	} else {
		what, perm = fmt.Sprintf("task delta of list %q of %s", col.Name, mbx.Address), permTasks
		if link == "" {
			link = s.rawURL("users", mbx.ID, "todo", "lists", col.ID, "tasks", "delta")
		}
	}
	prefer := []string{"odata.maxpagesize=" + strconv.Itoa(s.cfg.PageSize), `IdType="ImmutableId"`}
	for {
		b, err := s.getBytes(ctx, link, "application/json", prefer...)
		if err != nil {
			code := errorCode(err)
			err = classify(err, what, perm)
			if strings.EqualFold(code, "SyncStateNotFound") || strings.EqualFold(code, "SyncStateInvalid") {
				if !errors.Is(err, model.ErrCursorExpired) {
					err = fmt.Errorf("%w: %w", err, model.ErrCursorExpired)
				}
			}
			yield(extract.Change{}, err)
			return
		}
		p, err := parsePage(b)
		if err != nil {
			yield(extract.Change{}, fmt.Errorf("graph: %s: %w", what, err))
			return
		}
		stopped := false
		fetchOrdered(ctx, len(p.Value), fetchParallel,
			func(ctx context.Context, i int) (extract.Change, error) {
				return s.deltaItem(ctx, mbx, col, p.Value[i])
			},
			func(_ int, c extract.Change, err error) bool {
				if err != nil {
					yield(extract.Change{}, classify(err, what, perm))
					stopped = true
					return false
				}
				if c.Kind == 0 {
					return true // an item without id
				}
				if !yield(c, nil) {
					stopped = true
					return false
				}
				return true
			})
		if stopped {
			return
		}
		if p.Next != "" {
			if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: p.Next}, nil) {
				return
			}
			link = p.Next
			continue
		}
		if p.Delta == "" {
			yield(extract.Change{}, model.Retryable(fmt.Errorf("graph: %s: a page with neither nextLink nor deltaLink", what)))
			return
		}
		yield(extract.Change{Kind: extract.Checkpoint, Cursor: p.Delta, Final: true}, nil)
		return
	}
}

// deltaItem turns one delta item into a Change, fetching what the delta does not carry
// (a contact's photo, a task's checklist items).
func (s *Source) deltaItem(ctx context.Context, mbx model.Mailbox, col model.Collection, raw json.RawMessage) (extract.Change, error) {
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		return extract.Change{}, model.Retryable(fmt.Errorf("malformed item: %w", err))
	}
	if h.ID == "" {
		return extract.Change{}, nil
	}
	rec := model.Record{ID: h.ID, CollectionID: col.ID, Kind: col.Kind}
	if len(h.Removed) > 0 && string(h.Removed) != "null" {
		return extract.Change{Kind: extract.Delete, Record: rec}, nil
	}
	rec.Payload = bytes.Clone(raw)
	switch col.Kind {
	case model.KindContacts:
		rec.ChangeKey, rec.Subject = h.ChangeKey, h.DisplayName
		photo, err := withRetry(ctx, func() ([]byte, error) {
			return s.getBytes(ctx, s.rawURL("users", mbx.ID, "contacts", h.ID, "photo", "$value"), "application/octet-stream, application/json")
		})
		if err != nil {
			cerr := classify(err, "photo of contact "+h.ID, permContacts)
			if !errors.Is(cerr, model.ErrNotFound) {
				return extract.Change{}, err
			}
			photo = nil
		}
		rec.Photo = photo
	case model.KindTasks:
		rec.Subject = h.Title
		items, err := s.checklistItems(ctx, mbx, col, h.ID)
		if err != nil {
			return extract.Change{}, err
		}
		if rec.Payload, err = setMember(rec.Payload, "checklistItems", items); err != nil {
			return extract.Change{}, err
		}
		// A todoTask has no changeKey; its etag, with the checklist (which may change
		// without it), stands for its version.
		v := h.ETag
		if v == "" {
			v = h.LastModified
		}
		sum := sha256.Sum256(items)
		rec.ChangeKey = v + "/" + hex.EncodeToString(sum[:6])
	}
	return extract.Change{Kind: extract.Upsert, Record: rec}, nil
}

// checklistItems returns the JSON array of a task's checklist items (every page).
func (s *Source) checklistItems(ctx context.Context, mbx model.Mailbox, col model.Collection, taskID string) (json.RawMessage, error) {
	link := s.rawURL("users", mbx.ID, "todo", "lists", col.ID, "tasks", taskID, "checklistItems")
	var all []json.RawMessage
	for link != "" {
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

// setMember sets key to val in the JSON object obj, keeping every other member as it was
// (order included).
func setMember(obj []byte, key string, val json.RawMessage) ([]byte, error) {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil, model.Permanent(errors.New("payload is not a JSON object"))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, model.Permanent(fmt.Errorf("payload: %w", err))
	}
	k, _ := json.Marshal(key)
	if _, exists := m[key]; exists {
		// Rare (the server already expanded it): rebuild the object without the old value.
		delete(m, key)
		m[key] = val
		return json.Marshal(m)
	}
	var b bytes.Buffer
	b.Grow(len(obj) + len(k) + len(val) + 2)
	body := bytes.TrimSpace(obj[1 : len(obj)-1])
	b.WriteByte('{')
	b.Write(body)
	if len(body) > 0 {
		b.WriteByte(',')
	}
	b.Write(k)
	b.WriteByte(':')
	b.Write(val)
	b.WriteByte('}')
	return b.Bytes(), nil
}
