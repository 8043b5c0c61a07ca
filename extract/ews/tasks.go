package ews

import (
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// gwTask is t:Task (TaskType) as GetItem returns it with AllProperties and the body as
// text.
//
// EWS tasks are Outlook tasks: they have no checklist items (steps are a Microsoft To Do
// feature stored outside the task item), so the todoTask JSON always carries an empty
// "checklistItems". A regeneration recurrence ("a new task n days after completion") has
// no Graph counterpart and is left out, with an error the caller reports as a warning.
type gwTask struct {
	ItemID           gwItemID      `xml:"ItemId"`
	ParentFolderID   gwItemID      `xml:"ParentFolderId"`
	Subject          string        `xml:"Subject"`
	Body             *gwBody       `xml:"Body"`
	DateTimeCreated  string        `xml:"DateTimeCreated"`
	LastModifiedTime string        `xml:"LastModifiedTime"`
	Categories       []string      `xml:"Categories>String"`
	Importance       string        `xml:"Importance"`
	ReminderIsSet    bool          `xml:"ReminderIsSet"`
	ReminderDueBy    string        `xml:"ReminderDueBy"`
	HasAttachments   bool          `xml:"HasAttachments"`
	CompleteDate     string        `xml:"CompleteDate"`
	DueDate          string        `xml:"DueDate"`
	StartDate        string        `xml:"StartDate"`
	Status           string        `xml:"Status"`
	Recurrence       *gwRecurrence `xml:"Recurrence"`
}

var taskStatus = map[string]string{"NotStarted": "notStarted", "InProgress": "inProgress",
	"Completed": "completed", "WaitingOnOthers": "waitingOnOthers", "Deferred": "deferred"}

// taskDate is a task's due or start date: Outlook stores the local midnight of the user's
// zone as an instant; To Do's JSON is the date at midnight UTC.
func taskDate(s string) (models.DateTimeTimeZoneable, bool) {
	t, ok := parseEWSTime(s)
	if !ok {
		return nil, false
	}
	return dtz(nearestMidnight(t)), true
}

// gwTaskJSON converts a task into Graph's todoTask JSON (with "checklistItems": []).
// warning is set when part of the task could not be carried (a regeneration recurrence).
func gwTaskJSON(k *gwTask) (payload []byte, warning string, err error) {
	if k.ItemID.ID == "" {
		return nil, "", fmt.Errorf("task without ItemId")
	}
	g := models.NewTodoTask()
	g.SetId(ptr(k.ItemID.ID))
	g.SetTitle(ptr(k.Subject))
	body := models.NewItemBody()
	content := ""
	if k.Body != nil {
		content = k.Body.Content
	}
	body.SetContent(ptr(content))
	body.SetContentType(enum[models.BodyType](models.ParseBodyType, "text"))
	if k.Body != nil && strings.EqualFold(k.Body.Type, "HTML") {
		body.SetContentType(enum[models.BodyType](models.ParseBodyType, "html"))
	}
	g.SetBody(body)
	imp := lowerFirst(k.Importance)
	if imp == "" {
		imp = "normal"
	}
	g.SetImportance(enum[models.Importance](models.ParseImportance, imp))
	st, ok := taskStatus[strings.TrimSpace(k.Status)]
	if !ok {
		st = "notStarted"
	}
	g.SetStatus(enum[models.TaskStatus](models.ParseTaskStatus, st))
	g.SetIsReminderOn(ptr(k.ReminderIsSet))
	if t, ok := parseEWSTime(k.DateTimeCreated); ok {
		g.SetCreatedDateTime(&t)
	}
	if t, ok := parseEWSTime(k.LastModifiedTime); ok {
		g.SetLastModifiedDateTime(&t)
		g.SetBodyLastModifiedDateTime(&t)
	}
	g.SetHasAttachments(ptr(false))
	cats := k.Categories
	if cats == nil {
		cats = []string{}
	}
	g.SetCategories(cats)
	if d, ok := taskDate(k.DueDate); ok {
		g.SetDueDateTime(d)
	}
	if d, ok := taskDate(k.StartDate); ok {
		g.SetStartDateTime(d)
	}
	if k.ReminderIsSet {
		if t, ok := parseEWSTime(k.ReminderDueBy); ok {
			g.SetReminderDateTime(dtz(t))
		}
	}
	if st == "completed" {
		if t, ok := parseEWSTime(k.CompleteDate); ok {
			g.SetCompletedDateTime(dtz(t))
		}
	}
	if k.Recurrence != nil {
		rec, err := gwPatternedRecurrence(k.Recurrence, "")
		if err != nil {
			warning = "task " + k.ItemID.ID + ": recurrence left out: " + err.Error()
		} else {
			g.SetRecurrence(rec)
		}
	}
	g.SetChecklistItems([]models.ChecklistItemable{})
	b, err := graphJSON(g)
	return b, warning, err
}
