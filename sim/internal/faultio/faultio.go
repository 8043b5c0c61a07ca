// Package faultio holds the transport faults both emulators (sim/graph, sim/ews) inject:
// a connection dropped before any answer, and an answer cut in the middle of its body.
package faultio

import (
	"net/http"
	"strconv"
)

// Drop closes the request's connection without an answer; false when the writer cannot be
// hijacked (the caller then answers normally).
func Drop(w http.ResponseWriter) bool {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return true
		}
	}
	return false
}

// TruncWriter sends the headers with the full Content-Length but only the first half of the
// body; Finish then closes the connection under the client's feet.
type TruncWriter struct {
	http.ResponseWriter
	limit   int64
	written int64
}

func (t *TruncWriter) WriteHeader(code int) {
	n, _ := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64)
	t.limit = n / 2
	t.ResponseWriter.WriteHeader(code)
}

func (t *TruncWriter) Write(p []byte) (int, error) {
	room := t.limit - t.written
	if room <= 0 {
		return 0, http.ErrAbortHandler
	}
	if int64(len(p)) > room {
		n, _ := t.ResponseWriter.Write(p[:room])
		t.written += int64(n)
		return n, http.ErrAbortHandler
	}
	n, err := t.ResponseWriter.Write(p)
	t.written += int64(n)
	return n, err
}

// Finish flushes what was written and closes the connection.
func (t *TruncWriter) Finish() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	Drop(t.ResponseWriter)
}
