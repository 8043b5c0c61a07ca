package ews

// Tasks: the tenant's To Do tasks as EWS Task elements (ItemType then TaskType of
// types.xsd). The default To Do list is the distinguished "tasks" folder; other lists are
// IPF.Task folders. The "Flagged Emails" list of To Do is a view over flagged messages,
// not a folder, and has no EWS form.
//
// Shapes: Status NotStarted / InProgress / Completed / WaitingOnOthers / Deferred;
// StartDate, DueDate are the date at midnight in the mailbox's time zone, in UTC, as
// Exchange stores task dates (so 15 December in Paris is "2026-12-14T23:00:00Z": the date
// is the one of the nearest midnight UTC); CompleteDate and ReminderDueBy are instants;
// Recurrence uses the calendar patterns (TaskRecurrenceType); the body is Text.
// Checklist items (To Do steps) have no EWS form: they are not carried, and a source
// reading EWS reports them as such.

import (
	"encoding/xml"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// gwTask is t:Task, elements in schema order.
type gwTask struct {
	XMLName          xml.Name   `xml:"t:Task"`
	ItemID           gwID       `xml:"t:ItemId"`
	ParentFolderID   *gwID      `xml:"t:ParentFolderId"`
	ItemClass        string     `xml:"t:ItemClass"`
	Subject          string     `xml:"t:Subject"`
	Sensitivity      string     `xml:"t:Sensitivity"`
	Body             *gwBody    `xml:"t:Body"`
	DateTimeReceived string     `xml:"t:DateTimeReceived,omitempty"`
	Size             int64      `xml:"t:Size"`
	Categories       *gwStrings `xml:"t:Categories"`
	Importance       string     `xml:"t:Importance"`
	DateTimeCreated  string     `xml:"t:DateTimeCreated,omitempty"`
	ReminderDueBy    string     `xml:"t:ReminderDueBy,omitempty"`
	ReminderIsSet    bool       `xml:"t:ReminderIsSet"`
	HasAttachments   bool       `xml:"t:HasAttachments"`
	LastModifiedTime string     `xml:"t:LastModifiedTime,omitempty"`

	ChangeCount     int           `xml:"t:ChangeCount"`
	CompleteDate    string        `xml:"t:CompleteDate,omitempty"`
	DelegationState string        `xml:"t:DelegationState"`
	DueDate         string        `xml:"t:DueDate,omitempty"`
	IsComplete      bool          `xml:"t:IsComplete"`
	IsRecurring     bool          `xml:"t:IsRecurring"`
	IsTeamTask      bool          `xml:"t:IsTeamTask"`
	PercentComplete float64       `xml:"t:PercentComplete"`
	Recurrence      *gwRecurrence `xml:"t:Recurrence"`
	StartDate       string        `xml:"t:StartDate,omitempty"`
	Status          string        `xml:"t:Status"`
}

// taskDate renders a To Do date (midnight UTC) as midnight in zone, in UTC.
func taskDate(d time.Time, zone string) string {
	if d.IsZero() {
		return ""
	}
	return ewsTime(floatingToZone(d, zone))
}

// taskXML converts a task of user u.
func taskXML(u tenant.User, k tenant.Task) (*gwTask, error) {
	zone := tenant.TimeZone(u)
	x := &gwTask{
		ItemID: gwID{k.ID, k.ChangeKey}, ParentFolderID: &gwID{ID: k.ListID}, ItemClass: "IPM.Task",
		Subject: k.Title, Sensitivity: "Normal", Body: &gwBody{Type: "Text", Text: k.Body},
		DateTimeReceived: ewsTime(k.Created), Size: int64(512 + len(k.Title) + len(k.Body)),
		Categories: gwStringList(k.Categories), Importance: title(cmpOr(k.Importance, "normal")),
		DateTimeCreated: ewsTime(k.Created), ReminderIsSet: k.ReminderOn, LastModifiedTime: ewsTime(k.Modified),
		ChangeCount: 1, DelegationState: "NoMatch", DueDate: taskDate(k.Due, zone),
		IsComplete: k.Status == "completed", IsRecurring: k.Recurrence != nil,
		StartDate: taskDate(k.Start, zone), Status: title(cmpOr(k.Status, "notStarted")),
	}
	if k.ReminderOn {
		x.ReminderDueBy = ewsTime(k.Reminder)
	}
	switch k.Status {
	case "completed":
		x.PercentComplete = 100
		x.CompleteDate = ewsTime(k.Completed)
	case "inProgress":
		x.PercentComplete = 50
	}
	rec, err := recurrenceXML(k.Recurrence)
	if err != nil {
		return nil, err
	}
	x.Recurrence = rec
	return x, nil
}

// taskItems lists the tasks of a task folder for SyncFolderItems.
func taskItems(ten *tenant.Tenant, userID, listID string) []gwItemRef {
	var out []gwItemRef
	for _, k := range ten.Tasks(userID, listID) {
		out = append(out, gwItemRef{ID: k.ID, ChangeKey: k.ChangeKey, Kind: "Task", Seq: k.Seq})
	}
	return out
}

// getTask renders task id of user, or an error wrapping model.ErrNotFound.
func getTask(ten *tenant.Tenant, u tenant.User, id string) (any, error) {
	k, err := ten.Task(u.ID, id)
	if err != nil {
		return nil, err
	}
	return taskXML(u, k)
}
