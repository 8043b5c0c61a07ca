package graph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// deltaState is what a $skiptoken or $deltatoken carries: the change-log range still to
// serve, the options of the first request, and the token generation.
type deltaState struct {
	Since  uint64 `json:"s"`
	Until  uint64 `json:"u,omitempty"` // 0 in a deltatoken
	After  uint64 `json:"a,omitempty"`
	Epoch  uint64 `json:"e"`
	Select string `json:"sel,omitempty"`
	Expand string `json:"exp,omitempty"`
	Folder string `json:"f"`
}

func encodeToken(st deltaState) string {
	b, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok string) (deltaState, bool) {
	var st deltaState
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, true
}

// deltaStart reads the request's delta position. ok is false when an error was written.
func (s *Server) deltaStart(w http.ResponseWriter, r *http.Request, q params, folderKey string) (st deltaState, ok bool) {
	tok, isDelta := q["deltatoken"], true
	if tok == "" {
		tok, isDelta = q["skiptoken"], false
	}
	if tok == "" {
		return deltaState{Until: s.ten.ChangeSeq(), Epoch: s.ten.DeltaEpoch(), Select: q["select"], Expand: q["expand"], Folder: folderKey}, true
	}
	st, valid := decodeToken(tok)
	if !valid || st.Folder != folderKey {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidSyncStateData", "The sync state data is corrupt or otherwise invalid.")
		return st, false
	}
	if st.Epoch != s.ten.DeltaEpoch() {
		s.graphError(w, r, http.StatusGone, "SyncStateNotFound", "The sync state cannot be found; it may have expired. Please restart the synchronization.")
		return st, false
	}
	if isDelta {
		st.Until, st.After = s.ten.ChangeSeq(), 0
	}
	if v := q["select"]; v != "" {
		st.Select = v
	}
	if v := q["expand"]; v != "" {
		st.Expand = v
	}
	return st, true
}

func deltaPageSize(r *http.Request, w http.ResponseWriter, q params) int {
	if v, ok := prefer(r)["odata.maxpagesize"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(min(n, 1000)))
			return min(n, 1000)
		}
	}
	return pageSize(q, 10, 1000)
}

// links returns the next page's link (more) or the new delta link.
func (s *Server) deltaLinks(r *http.Request, st deltaState, more bool, last uint64) (string, string) {
	v := url.Values{}
	if more {
		st.After = last
		v.Set("$skiptoken", encodeToken(st))
		return "@odata.nextLink", s.link(r, v)
	}
	next := deltaState{Since: st.Until, Epoch: st.Epoch, Select: st.Select, Expand: st.Expand, Folder: st.Folder}
	v.Set("$deltatoken", encodeToken(next))
	return "@odata.deltaLink", s.link(r, v)
}

func (s *Server) messageDelta(w http.ResponseWriter, r *http.Request, q params, u tenant.User, f tenant.Folder) {
	st, ok := s.deltaStart(w, r, q, f.ID)
	if !ok {
		return
	}
	size := deltaPageSize(r, w, q)
	changes, more, err := s.ten.FolderChanges(u.ID, f.ID, st.Since, st.Until, st.After, size)
	if err != nil {
		s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	opts := params{"select": st.Select, "expand": st.Expand}
	vals := []any{}
	var last uint64
	for _, c := range changes {
		last = c.Seq
		if c.Removed {
			vals = append(vals, map[string]any{"@odata.type": "#microsoft.graph.message", "id": c.ID, "@removed": map[string]any{"reason": "deleted"}})
			continue
		}
		obj := s.messageJSON(u, c.Message, opts)
		obj["@odata.type"] = "#microsoft.graph.message"
		vals = append(vals, obj)
	}
	k, link := s.deltaLinks(r, st, more, last)
	s.writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": s.context("Collection(message)"), "value": vals, k: link})
}

func (s *Server) folderDelta(w http.ResponseWriter, r *http.Request, q params, u tenant.User) {
	st, ok := s.deltaStart(w, r, q, "")
	if !ok {
		return
	}
	size := deltaPageSize(r, w, q)
	vals := []any{}
	var last uint64
	more := false
	for _, f := range s.ten.Folders(u.ID) {
		if f.Seq <= max(st.Since, st.After) || f.Seq > st.Until {
			continue
		}
		if len(vals) == size {
			more = true
			break
		}
		last = f.Seq
		vals = append(vals, s.selectFields(s.folderJSON(u, f), params{"select": st.Select}))
	}
	k, link := s.deltaLinks(r, st, more, last)
	s.writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": s.context("Collection(mailFolder)"), "value": vals, k: link})
}
