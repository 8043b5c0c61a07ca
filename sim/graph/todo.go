package graph

import (
	"net/http"
	"slices"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// serveTodo serves Microsoft To Do lists, tasks (with $expand=checklistItems), their deltas
// and checklist items. To Do items carry their version in @odata.etag only (no changeKey).
func (s *Server) serveTodo(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	base := "users('" + u.ID + "')/todo/lists"
	switch rt.class {
	case "todo.lists":
		lists := s.ten.TaskLists(u.ID)
		s.page(w, r, q, base, len(lists), 10, func(i int) map[string]any { return s.selectFields(listJSON(lists[i]), q) })
		return
	case "todo.lists.delta":
		s.gwDelta(w, r, q, "todo.lists|"+u.ID, "#microsoft.graph.todoTaskList", "Collection(todoTaskList)",
			func(*gwState) bool { return true },
			func(*gwState) []gwItem {
				var items []gwItem
				for _, l := range s.ten.TaskLists(u.ID) {
					items = append(items, gwItem{id: l.ID, version: l.ChangeKey, obj: func() map[string]any { return listJSON(l) }})
				}
				return items
			})
		return
	}
	l, err := s.ten.TaskList(u.ID, rt.coll)
	if err != nil {
		s.notFound(w, r)
		return
	}
	switch rt.class {
	case "todo.list":
		obj := s.selectFields(listJSON(l), q)
		obj["@odata.context"] = s.context(base + "/$entity")
		s.writeJSON(w, r, http.StatusOK, obj)
	case "todo.tasks":
		tasks := s.ten.Tasks(u.ID, l.ID)
		s.page(w, r, q, base+"('"+l.ID+"')/tasks", len(tasks), 10, func(i int) map[string]any { return s.taskJSON(tasks[i], q) })
	case "todo.tasks.delta":
		s.gwDelta(w, r, q, "todo.tasks|"+u.ID+"|"+l.ID, "#microsoft.graph.todoTask", "Collection(todoTask)",
			func(*gwState) bool { return true },
			func(*gwState) []gwItem {
				var items []gwItem
				for _, k := range s.ten.Tasks(u.ID, l.ID) {
					items = append(items, gwItem{id: k.ID, version: k.ChangeKey, obj: func() map[string]any { return s.taskJSON(k, params{}) }})
				}
				return items
			})
	default:
		k, err := s.ten.Task(u.ID, rt.item)
		if err != nil || k.ListID != l.ID {
			s.notFound(w, r)
			return
		}
		switch rt.class {
		case "todo.task":
			obj := s.taskJSON(k, q)
			obj["@odata.context"] = s.context(base + "('" + l.ID + "')/tasks/$entity")
			s.writeJSON(w, r, http.StatusOK, obj)
		case "todo.checklistItems":
			s.page(w, r, q, base+"('"+l.ID+"')/tasks('"+k.ID+"')/checklistItems", len(k.Checklist), 10, func(i int) map[string]any {
				return s.selectFields(checklistJSON(k.Checklist[i]), q)
			})
		case "todo.checklistItem":
			i := slices.IndexFunc(k.Checklist, func(c tenant.ChecklistItem) bool { return c.ID == rt.sub })
			if i < 0 {
				s.notFound(w, r)
				return
			}
			s.writeJSON(w, r, http.StatusOK, s.selectFields(checklistJSON(k.Checklist[i]), q))
		}
	}
}

func listJSON(l tenant.TaskList) map[string]any {
	return map[string]any{"@odata.etag": etag(l.ChangeKey), "id": l.ID, "displayName": l.DisplayName,
		"isOwner": l.IsOwner, "isShared": l.IsShared, "wellknownListName": l.WellKnown}
}

func checklistJSON(c tenant.ChecklistItem) map[string]any {
	var checked any
	if !c.Checked.IsZero() {
		checked = isoTime(c.Checked)
	}
	return map[string]any{"id": c.ID, "displayName": c.DisplayName, "isChecked": c.IsChecked,
		"createdDateTime": isoTime(c.Created), "checkedDateTime": checked}
}

// utcDTZ renders a To Do date or instant as dateTimeTimeZone in UTC; nil when zero.
func utcDTZ(t interface{ IsZero() bool }, s string) any {
	if t.IsZero() {
		return nil
	}
	return map[string]any{"dateTime": s, "timeZone": "UTC"}
}

func (s *Server) taskJSON(k tenant.Task, q params) map[string]any {
	obj := map[string]any{
		"@odata.etag": etag(k.ChangeKey), "id": k.ID, "title": k.Title, "importance": k.Importance, "status": k.Status,
		"isReminderOn": k.ReminderOn, "createdDateTime": isoTime(k.Created), "lastModifiedDateTime": isoTime(k.Modified),
		"bodyLastModifiedDateTime": isoTime(k.Modified), "hasAttachments": false, "categories": nonNilStr(k.Categories),
		"body":        map[string]any{"content": k.Body, "contentType": "text"},
		"dueDateTime": utcDTZ(k.Due, k.Due.UTC().Format(graphTime)), "startDateTime": utcDTZ(k.Start, k.Start.UTC().Format(graphTime)),
		"reminderDateTime":  utcDTZ(k.Reminder, k.Reminder.UTC().Format(graphTime)),
		"completedDateTime": utcDTZ(k.Completed, k.Completed.UTC().Format(graphTime)),
	}
	if k.Recurrence != nil {
		obj["recurrence"] = recurrenceJSON(k.Recurrence)
	}
	for _, f := range []string{"dueDateTime", "startDateTime", "reminderDateTime", "completedDateTime"} {
		if obj[f] == nil {
			delete(obj, f) // To Do leaves unset dates out
		}
	}
	obj = s.selectFields(obj, q)
	if expands(q, "checklistItems") {
		items := []any{}
		for _, c := range k.Checklist {
			items = append(items, checklistJSON(c))
		}
		obj["checklistItems"] = items
	}
	return obj
}
