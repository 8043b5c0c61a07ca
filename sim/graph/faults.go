package graph

import (
	"net/http"
	"slices"
	"time"

	"github.com/bascule-migrate/bascule/sim/internal/faultio"
)

// injectFault draws this request's fault. It returns the writer to use (a truncating one
// for RateTruncate), done when the request has been answered (or dropped) already, and how
// long to stall before answering (RateSlow).
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, class string) (_ http.ResponseWriter, done bool, slow time.Duration) {
	s.fmu.Lock()
	f := s.faults
	if len(f.Only) > 0 && !slices.Contains(f.Only, class) {
		s.fmu.Unlock()
		return w, false, 0
	}
	total := f.RateDrop + f.Rate503 + f.Rate504 + f.RateTruncate + f.RateSlow
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
		s.graphError(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
		return w, true, 0
	case x < f.RateDrop+f.Rate503+f.Rate504:
		s.graphError(w, r, http.StatusGatewayTimeout, "UnknownError", "")
		return w, true, 0
	case x < f.RateDrop+f.Rate503+f.Rate504+f.RateTruncate:
		return &faultio.TruncWriter{ResponseWriter: w}, false, 0
	case x < total:
		return w, false, f.Slow
	}
	return w, false, 0
}
