package graph

import (
	"net/http"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	s.graphError(w, r, http.StatusNotImplemented, "NotImplemented", "contacts are not served yet")
}

func (s *Server) serveTodo(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	s.graphError(w, r, http.StatusNotImplemented, "NotImplemented", "To Do is not served yet")
}
