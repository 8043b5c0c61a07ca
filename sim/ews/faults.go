package ews

import (
	"net/http"
	"slices"
	"time"

	"github.com/bascule-migrate/bascule/sim/internal/faultio"
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
		return w, faultio.Drop(w), 0
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
		return &faultio.TruncWriter{ResponseWriter: w}, false, 0
	case x < total:
		return w, false, f.Slow
	}
	return w, false, 0
}
