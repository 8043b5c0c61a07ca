package ews

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// injectFault draws this request's fault. It returns the writer to use (a truncating one
// for RateTruncate), done when the request has been answered (or dropped) already, and how
// long to stall before answering (RateSlow).
func (s *Server) injectFault(w http.ResponseWriter, op string) (_ http.ResponseWriter, done bool, slow time.Duration) {
	s.fmu.Lock()
	f := s.faults
	if len(f.Only) > 0 && !slices.Contains(f.Only, op) {
		s.fmu.Unlock()
		return w, false, 0
	}
	total := f.RateDrop + f.Rate503 + f.RateBusy + f.RateTruncate + f.RateSlow
	if total <= 0 {
		s.fmu.Unlock()
		return w, false, 0
	}
	x := s.frng.Float64()
	s.fmu.Unlock()
	switch {
	case x < f.RateDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return w, true, 0
			}
		}
		return w, false, 0
	case x < f.RateDrop+f.Rate503:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body><h1>Service Unavailable</h1></body></html>"))
		return w, true, 0
	case x < f.RateDrop+f.Rate503+f.RateBusy:
		writeFault(w, &Fault{Code: "ErrorServerBusy", Text: "The server cannot service this request right now. Try again later.", BackOff: f.BusyBackOff})
		return w, true, 0
	case x < f.RateDrop+f.Rate503+f.RateBusy+f.RateTruncate:
		return &truncWriter{ResponseWriter: w}, false, 0
	case x < total:
		return w, false, f.Slow
	}
	return w, false, 0
}

// truncWriter sends the headers with the full Content-Length but only the first half of the
// body, then closes the connection.
type truncWriter struct {
	http.ResponseWriter
	limit   int64
	written int64
}

func (t *truncWriter) WriteHeader(code int) {
	n, _ := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64)
	t.limit = n / 2
	t.ResponseWriter.WriteHeader(code)
}

func (t *truncWriter) Write(p []byte) (int, error) {
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

// finish flushes what was written and closes the connection under the client's feet.
func (t *truncWriter) finish() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := t.ResponseWriter.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
		}
	}
}
