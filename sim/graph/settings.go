package graph

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// mailboxSettings serves GET /users/{id}/mailboxSettings, or only its
// automaticRepliesSetting.
func (s *Server) mailboxSettings(w http.ResponseWriter, r *http.Request, q params, u tenant.User, repliesOnly bool) {
	ar, err := s.ten.AutoReply(u.ID)
	if err != nil {
		s.notFound(w, r)
		return
	}
	base := "users('" + u.ID + "')/mailboxSettings"
	replies := autoReplyJSON(ar)
	if repliesOnly {
		replies["@odata.context"] = s.context(base + "/automaticRepliesSetting")
		s.writeJSON(w, r, http.StatusOK, replies)
		return
	}
	tz := tenant.TimeZone(u)
	locale, name, dateFmt, timeFmt := "en-US", "English (United States)", "M/d/yyyy", "h:mm tt"
	if u.Language == "fr-FR" {
		locale, name, dateFmt, timeFmt = "fr-FR", "français (France)", "dd/MM/yyyy", "HH:mm"
	}
	archive, _ := s.ten.Folder(u.ID, "archive")
	obj := map[string]any{
		"@odata.context":          s.context(base),
		"archiveFolder":           archive.ID,
		"timeZone":                tz,
		"automaticRepliesSetting": replies,
		"language":                map[string]any{"locale": locale, "displayName": name},
		"dateFormat":              dateFmt, "timeFormat": timeFmt,
		"userPurpose":                           u.Purpose,
		"delegateMeetingMessageDeliveryOptions": "sendToDelegateAndInformationToPrincipal",
		"workingHours": map[string]any{"daysOfWeek": []string{"monday", "tuesday", "wednesday", "thursday", "friday"},
			"startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
			"timeZone": map[string]any{"name": tz}},
	}
	s.writeJSON(w, r, http.StatusOK, s.selectFields(obj, q))
}

// autoReplyJSON is Graph's automaticRepliesSetting; the schedule is always present (Graph
// keeps the last one even when the status is not scheduled) and given in UTC.
func autoReplyJSON(ar model.AutoReply) map[string]any {
	start, end := ar.Start, ar.End
	if start.IsZero() {
		start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if end.IsZero() {
		end = start.Add(24 * time.Hour)
	}
	return map[string]any{
		"status": ar.Status, "externalAudience": ar.ExternalAudience,
		"internalReplyMessage": ar.InternalReply, "externalReplyMessage": ar.ExternalReply,
		"scheduledStartDateTime": map[string]any{"dateTime": start.UTC().Format(graphTime), "timeZone": "UTC"},
		"scheduledEndDateTime":   map[string]any{"dateTime": end.UTC().Format(graphTime), "timeZone": "UTC"},
	}
}

func calendarPermissionJSON(p tenant.CalendarPermission) map[string]any {
	email := map[string]any{"name": p.Name}
	if p.Address != "" {
		email["address"] = p.Address
	}
	return map[string]any{
		"id": p.ID, "isRemovable": p.IsRemovable, "isInsideOrganization": p.IsInsideOrganization,
		"role": p.Role, "allowedRoles": p.AllowedRoles, "emailAddress": email,
	}
}

// calendarPermissions serves …/calendar/calendarPermissions[/{id}] and
// …/calendars/{id}/calendarPermissions[/{id}].
func (s *Server) calendarPermissions(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	cal, err := s.ten.Calendar(u.ID, rt.coll)
	if err != nil {
		s.notFound(w, r)
		return
	}
	perms, err := s.ten.CalendarPermissions(u.ID, cal.ID)
	if err != nil {
		s.notFound(w, r)
		return
	}
	base := "users('" + u.ID + "')/calendars('" + cal.ID + "')/calendarPermissions"
	if rt.class == "calendarPermissions" {
		s.page(w, r, q, base, len(perms), 100, func(i int) map[string]any { return s.selectFields(calendarPermissionJSON(perms[i]), q) })
		return
	}
	for _, p := range perms {
		if p.ID == rt.item {
			obj := s.selectFields(calendarPermissionJSON(p), q)
			obj["@odata.context"] = s.context(base + "/$entity")
			s.writeJSON(w, r, http.StatusOK, obj)
			return
		}
	}
	s.notFound(w, r)
}

// messageRules serves …/mailFolders/inbox/messageRules[/{id}]: each rule is the tenant's
// payload, byte for byte. Only the inbox has rules.
func (s *Server) messageRules(w http.ResponseWriter, r *http.Request, u tenant.User, f tenant.Folder, id string) {
	if f.WellKnown != "inbox" {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidRequest", "Rules are only supported on the Inbox folder.")
		return
	}
	base := "users('" + u.ID + "')/mailFolders('inbox')/messageRules"
	rules := s.ten.Rules(u.ID)
	if id == "" {
		vals := make([]json.RawMessage, len(rules))
		for i, rl := range rules {
			vals[i] = rl.Payload
		}
		s.writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": s.context(base), "value": vals})
		return
	}
	for _, rl := range rules {
		if rl.ID == id {
			ctx, _ := json.Marshal(s.context(base + "/$entity"))
			obj := append([]byte(`{"@odata.context":`), ctx...)
			if len(rl.Payload) > 2 {
				obj = append(append(obj, ','), rl.Payload[1:]...)
			} else {
				obj = append(obj, '}')
			}
			s.writeJSON(w, r, http.StatusOK, json.RawMessage(obj))
			return
		}
	}
	s.notFound(w, r)
}
