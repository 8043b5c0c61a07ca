package graph

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Groupware delta queries keep their sync state on the server, as Exchange does (the token
// names a cached state, which is why Outlook delta tokens expire without notice): a state is
// the client's view after a round — item id → version — and the next round reports what
// differs from it: new and changed items, and @removed for items gone from the scope (deleted,
// moved out of the window, cancelled occurrences). A token the cache no longer holds, or one
// from before Tenant.ExpireDeltaTokens, gets 410.

type gwState struct {
	key   string // scope: class, mailbox, collection
	epoch uint64
	from  time.Time // calendarView window
	to    time.Time
	snap  map[string]string // id → version the client has
	// A round in progress (skiptoken pages): the items to serve and the state it leads to.
	items []map[string]any
	next  map[string]string
}

// gwDeltas holds sync states, oldest evicted first beyond maxStates.
type gwDeltas struct {
	mu     sync.Mutex
	n      int
	states map[string]*gwState
	order  []string
}

const maxStates = 50000

func (d *gwDeltas) put(st *gwState) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.states == nil {
		d.states = map[string]*gwState{}
	}
	d.n++
	id := "R" + strconv.Itoa(d.n) + "x" + strconv.FormatUint(st.epoch, 36)
	d.states[id] = st
	d.order = append(d.order, id)
	for len(d.order) > maxStates {
		delete(d.states, d.order[0])
		d.order = d.order[1:]
	}
	return id
}

func (d *gwDeltas) get(id string) *gwState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.states[id]
}

// gwItem is one item in a delta scope: its id, its version, and its JSON.
type gwItem struct {
	id, version string
	obj         func() map[string]any
}

// gwDelta serves one delta request over the scope key. start is called on a tokenless
// request to fill the new state (e.g. the window; it writes an error and returns false when
// the request is invalid); list returns the scope's current items for a state.
func (s *Server) gwDelta(w http.ResponseWriter, r *http.Request, q params, key, odataType, context string,
	start func(*gwState) bool, list func(*gwState) []gwItem) {
	epoch := s.ten.DeltaEpoch()
	gone := func() {
		s.graphError(w, r, http.StatusGone, "SyncStateNotFound", "The sync state cannot be found; it may have expired. Please restart the synchronization.")
	}
	var st *gwState
	off := 0
	switch {
	case q["skiptoken"] != "":
		id, o, _ := strings.Cut(q["skiptoken"], ".")
		st = s.gd.get(id)
		n, err := strconv.Atoi(o)
		if st == nil || err != nil || st.items == nil || n < 0 || n > len(st.items) {
			gone()
			return
		}
		off = n
	case q["deltatoken"] != "":
		prev := s.gd.get(q["deltatoken"])
		if prev == nil {
			gone()
			return
		}
		st = &gwState{key: prev.key, epoch: prev.epoch, from: prev.from, to: prev.to, snap: prev.snap}
	default:
		st = &gwState{key: key, epoch: epoch, snap: map[string]string{}}
		if !start(st) {
			return
		}
	}
	if st.key != key {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid.")
		return
	}
	if st.epoch != epoch {
		gone()
		return
	}
	if st.items == nil {
		// A new round: diff the scope against the client's view.
		st.next = map[string]string{}
		st.items = []map[string]any{}
		cur := list(st)
		for _, it := range cur {
			st.next[it.id] = it.version
			if st.snap[it.id] != it.version {
				obj := it.obj()
				obj["@odata.type"] = odataType
				st.items = append(st.items, obj)
			}
		}
		for _, it := range sortedKeys(st.snap) {
			if _, ok := st.next[it]; !ok {
				st.items = append(st.items, map[string]any{"@odata.type": odataType, "id": it, "@removed": map[string]any{"reason": "deleted"}})
			}
		}
	}
	size := deltaPageSize(r, w, q)
	end := min(off+size, len(st.items))
	resp := map[string]any{"@odata.context": s.context(context), "value": st.items[off:end]}
	v := url.Values{}
	if end < len(st.items) {
		id := q["skiptoken"]
		if id == "" {
			id = s.gd.put(st)
		} else {
			id, _, _ = strings.Cut(id, ".")
		}
		v.Set("$skiptoken", id+"."+strconv.Itoa(end))
		resp["@odata.nextLink"] = s.link(r, v)
	} else {
		v.Set("$deltatoken", s.gd.put(&gwState{key: st.key, epoch: st.epoch, from: st.from, to: st.to, snap: st.next}))
		resp["@odata.deltaLink"] = s.link(r, v)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
