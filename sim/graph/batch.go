package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// serveBatch implements JSON batching: at most 20 requests, unique ids, dependsOn (424 when
// a dependency failed), independent requests run 4 at a time; non-JSON bodies ($value) come
// back base64-encoded.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(req.Requests) == 0 {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(req.Requests) > 20 {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Limit of 20 requests per batch exceeded.")
		return
	}
	ids := map[string]bool{}
	chained := false
	for _, q := range req.Requests {
		if q.ID == "" || ids[q.ID] {
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Batch request contains a duplicate or missing request id: '"+q.ID+"'.")
			return
		}
		ids[q.ID] = true
		chained = chained || len(q.DependsOn) > 0
	}
	out := make([]batchResponse, len(req.Requests))
	if !chained {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for i, q := range req.Requests {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				out[i] = s.batchOne(r, q)
				<-sem
			}()
		}
		wg.Wait()
	} else {
		status := map[string]int{}
		for i, q := range req.Requests {
			failed := false
			for _, d := range q.DependsOn {
				if st, ok := status[d]; !ok || st >= 400 {
					failed = true
				}
			}
			if failed {
				out[i] = batchResponse{ID: q.ID, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"},
					Body: map[string]any{"error": map[string]any{"code": "FailedDependency", "message": "Request failed because a dependent request failed or was not found."}}}
			} else {
				out[i] = s.batchOne(r, q)
			}
			status[q.ID] = out[i].Status
		}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"responses": out})
}

func (s *Server) batchOne(outer *http.Request, q batchRequest) batchResponse {
	u := q.URL
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	method := strings.ToUpper(q.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if len(q.Body) > 0 {
		body = bytes.NewReader(q.Body)
	}
	in, err := http.NewRequestWithContext(outer.Context(), method, "/v1.0"+u, body)
	if err != nil {
		return batchResponse{ID: q.ID, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: map[string]any{"error": map[string]any{"code": "BadRequest", "message": "Invalid request URL."}}}
	}
	for k, v := range q.Headers {
		in.Header.Set(k, v)
	}
	in.Header.Set("Authorization", outer.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	s.serveGraph(rec, in, true)
	res := rec.Result()
	resp := batchResponse{ID: q.ID, Status: res.StatusCode, Headers: map[string]string{}}
	for _, h := range []string{"Content-Type", "Retry-After", "Preference-Applied"} {
		if v := res.Header.Get(h); v != "" {
			resp.Headers[h] = v
		}
	}
	data := rec.Body.Bytes()
	switch {
	case len(data) == 0:
	case strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"):
		resp.Body = json.RawMessage(bytes.TrimSpace(data))
	default:
		resp.Body = base64.StdEncoding.EncodeToString(data)
		resp.Headers["Content-Length"] = strconv.Itoa(len(data))
	}
	return resp
}
