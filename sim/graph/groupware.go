package graph

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// gwRoute parses the groupware paths under /users/{id}/ (rest starts with calendars,
// calendar, events, calendarView, contactFolders, contacts or todo). Classes:
//
//	calendars                            calendars
//	calendars/{id}, calendar             calendar
//	[calendars/{id}/|calendar/]events    events
//	…/events/{id}                        event
//	…/events/{id}/instances              event.instances
//	…/events/{id}/attachments[/{id}]     event.attachments, event.attachment
//	…/attachments/{id}/$value            event.attachment.value
//	[calendars/{id}/|calendar/]calendarView[/delta]  calendarView, calendarView.delta
//	[calendars/{id}/|calendar/]calendarPermissions[/{id}]  calendarPermissions, calendarPermission
//	contactFolders[/delta]               contactFolders, contactFolders.delta
//	contactFolders/{id}                  contactFolder
//	contactFolders/{id}/childFolders     contactFolders.childFolders
//	[contactFolders/{id}/]contacts[/delta]  contacts, contacts.delta
//	…/contacts/{id}[/photo[/$value]]     contact, contact.photo, contact.photo.value
//	todo/lists[/delta], todo/lists/{id}  todo.lists, todo.lists.delta, todo.list
//	todo/lists/{id}/tasks[/delta]        todo.tasks, todo.tasks.delta
//	…/tasks/{id}[/checklistItems[/{id}]] todo.task, todo.checklistItems, todo.checklistItem
func gwRoute(r route, rest []string) route {
	r.gw = true
	unknown := route{class: "unknown"}
	switch rest[0] {
	case "calendar", "calendars":
		if rest[0] == "calendars" {
			if len(rest) == 1 {
				r.class = "calendars"
				return r
			}
			r.coll, rest = rest[1], rest[2:]
		} else {
			r.coll, rest = "calendar", rest[1:]
		}
		if len(rest) == 0 {
			r.class = "calendar"
			return r
		}
		switch rest[0] {
		case "events":
			return eventRoute(r, rest)
		case "calendarView":
			return viewRoute(r, rest)
		case "calendarPermissions":
			switch len(rest) {
			case 1:
				r.class = "calendarPermissions"
				return r
			case 2:
				r.class, r.item = "calendarPermission", rest[1]
				return r
			}
		}
		return unknown
	case "events":
		return eventRoute(r, rest)
	case "calendarView":
		return viewRoute(r, rest)
	case "contactFolders":
		if len(rest) == 1 {
			r.class = "contactFolders"
			return r
		}
		if rest[1] == "delta" && len(rest) == 2 {
			r.class = "contactFolders.delta"
			return r
		}
		r.coll, rest = rest[1], rest[2:]
		for len(rest) >= 2 && rest[0] == "childFolders" {
			r.coll, rest = rest[1], rest[2:]
		}
		switch {
		case len(rest) == 0:
			r.class = "contactFolder"
		case len(rest) == 1 && rest[0] == "childFolders":
			r.class = "contactFolders.childFolders"
		case rest[0] == "contacts":
			return contactRoute(r, rest)
		default:
			return unknown
		}
		return r
	case "contacts":
		return contactRoute(r, rest)
	case "todo":
		if len(rest) < 2 || rest[1] != "lists" {
			return unknown
		}
		rest = rest[2:]
		switch {
		case len(rest) == 0:
			r.class = "todo.lists"
		case len(rest) == 1 && rest[0] == "delta":
			r.class = "todo.lists.delta"
		case len(rest) == 1:
			r.class, r.coll = "todo.list", rest[0]
		case rest[1] == "tasks":
			r.coll, rest = rest[0], rest[2:]
			switch {
			case len(rest) == 0:
				r.class = "todo.tasks"
			case len(rest) == 1 && rest[0] == "delta":
				r.class = "todo.tasks.delta"
			case len(rest) == 1:
				r.class, r.item = "todo.task", rest[0]
			case len(rest) == 2 && rest[1] == "checklistItems":
				r.class, r.item = "todo.checklistItems", rest[0]
			case len(rest) == 3 && rest[1] == "checklistItems":
				r.class, r.item, r.sub = "todo.checklistItem", rest[0], rest[2]
			default:
				return unknown
			}
		default:
			return unknown
		}
		return r
	}
	return unknown
}

func eventRoute(r route, rest []string) route {
	switch {
	case len(rest) == 1:
		r.class = "events"
	case len(rest) == 2:
		r.class, r.item = "event", rest[1]
	case len(rest) == 3 && rest[2] == "instances":
		r.class, r.item = "event.instances", rest[1]
	case len(rest) == 3 && rest[2] == "attachments":
		r.class, r.item = "event.attachments", rest[1]
	case len(rest) == 4 && rest[2] == "attachments":
		r.class, r.item, r.sub = "event.attachment", rest[1], rest[3]
	case len(rest) == 5 && rest[2] == "attachments" && rest[4] == "$value":
		r.class, r.item, r.sub = "event.attachment.value", rest[1], rest[3]
	default:
		r.class = "unknown"
	}
	return r
}

func viewRoute(r route, rest []string) route {
	switch {
	case len(rest) == 1:
		r.class = "calendarView"
	case len(rest) == 2 && rest[1] == "delta":
		r.class = "calendarView.delta"
	default:
		r.class = "unknown"
	}
	return r
}

func contactRoute(r route, rest []string) route {
	switch {
	case len(rest) == 1:
		r.class = "contacts"
	case len(rest) == 2 && rest[1] == "delta":
		r.class = "contacts.delta"
	case len(rest) == 2:
		r.class, r.item = "contact", rest[1]
	case len(rest) == 3 && rest[2] == "photo":
		r.class, r.item = "contact.photo", rest[1]
	case len(rest) == 4 && rest[2] == "photo" && rest[3] == "$value":
		r.class, r.item = "contact.photo.value", rest[1]
	default:
		r.class = "unknown"
	}
	return r
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

// serveGroupware serves a groupware GET for mailbox u.
func (s *Server) serveGroupware(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	switch {
	case rt.class == "calendarPermissions" || rt.class == "calendarPermission":
		s.calendarPermissions(w, r, q, u, rt)
	case strings.HasPrefix(rt.class, "calendar") || strings.HasPrefix(rt.class, "event"):
		s.serveCalendar(w, r, q, u, rt)
	case strings.HasPrefix(rt.class, "contact"):
		s.serveContacts(w, r, q, u, rt)
	case strings.HasPrefix(rt.class, "todo"):
		s.serveTodo(w, r, q, u, rt)
	default:
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+lastSegment(r.URL.Path)+"'.")
	}
}

// page serves one page of a collection with $top/$skip and an absolute nextLink.
func (s *Server) page(w http.ResponseWriter, r *http.Request, q params, context string, n, def int, render func(i int) map[string]any) {
	top := pageSize(q, def, 1000)
	off, _ := strconv.Atoi(q["skip"])
	off = max(off, 0)
	vals := []any{}
	for i := off; i < n && i < off+top; i++ {
		vals = append(vals, render(i))
	}
	resp := map[string]any{"@odata.context": s.context(context), "value": vals}
	if off+top < n {
		v, _ := url.ParseQuery(r.URL.RawQuery)
		v.Del("%24skip")
		v.Del("%24top")
		v.Del("$skip")
		v.Del("$top")
		v.Set("$top", strconv.Itoa(top))
		v.Set("$skip", strconv.Itoa(off+top))
		resp["@odata.nextLink"] = s.link(r, v)
	}
	s.writeJSON(w, r, http.StatusOK, resp)
}

func etag(ck string) string { return `W/"` + ck + `"` }

// graphTime is Graph's dateTimeTimeZone dateTime format.
const graphTime = "2006-01-02T15:04:05.0000000"

// parseWindow reads startDateTime/endDateTime (ISO 8601, with or without offset; without one
// it is read in loc). ok is false when an error was written.
func (s *Server) parseWindow(w http.ResponseWriter, r *http.Request, q params, loc *time.Location) (from, to time.Time, ok bool) {
	a, b := q["startdatetime"], q["enddatetime"]
	if a == "" || b == "" {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
		return from, to, false
	}
	var e1, e2 error
	from, e1 = parseGraphTime(a, loc)
	to, e2 = parseGraphTime(b, loc)
	if e1 != nil || e2 != nil {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidParameter", "The parameter 'StartDateTime' or 'EndDateTime' is not a valid date and time.")
		return from, to, false
	}
	return from.UTC(), to.UTC(), true
}

func parseGraphTime(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, f := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(f, v, loc); err == nil {
			return t, nil
		}
	}
	return time.ParseInLocation("2006-01-02T15:04:05", v, loc)
}
