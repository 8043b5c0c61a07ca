package ews

// Groupware (calendars, contacts, tasks) of the EWS source. Collections are the calendar
// (IPF.Appointment), contact (IPF.Contact) and task (IPF.Task) folders SyncFolderHierarchy
// lists; Records follow SyncFolderItems (the cursor is the SyncState) and GetItem each
// new or changed item in full, turning it into the Graph JSON the Graph source would give
// (calendar.go, contacts.go, tasks.go), so the transforms read both sources alike.

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// gwFolder is one folder of a SyncFolderHierarchy or GetFolder answer (t:Folder,
// t:CalendarFolder, t:ContactsFolder, t:TasksFolder, t:SearchFolder).
type gwFolder struct {
	XMLName        xml.Name
	FolderID       gwItemID `xml:"FolderId"`
	ParentFolderID gwItemID `xml:"ParentFolderId"`
	FolderClass    string   `xml:"FolderClass"`
	DisplayName    string   `xml:"DisplayName"`
	TotalCount     int64    `xml:"TotalCount"`
	EffectiveRight *struct {
		CreateContents bool `xml:"CreateContents"`
	} `xml:"EffectiveRights"`
	PermissionSet         *gwPermissionSet `xml:"PermissionSet"`
	CalendarPermissionSet *gwPermissionSet `xml:"CalendarPermissionSet"`
}

type gwFieldURI struct {
	URI string `xml:"FieldURI,attr"`
}

type gwIDRef struct {
	ID string `xml:"Id,attr"`
}

type gwFolderIDs struct {
	Folder        []gwIDRef `xml:"t:FolderId,omitempty"`
	Distinguished []gwIDRef `xml:"t:DistinguishedFolderId,omitempty"`
}

type gwSyncFolderHierarchy struct {
	XMLName   xml.Name     `xml:"m:SyncFolderHierarchy"`
	BaseShape string       `xml:"m:FolderShape>t:BaseShape"`
	Props     []gwFieldURI `xml:"m:FolderShape>t:AdditionalProperties>t:FieldURI"`
	SyncState string       `xml:"m:SyncState,omitempty"`
}

type gwFolderChange struct {
	Folders []gwFolder `xml:",any"`
}

type gwSyncFolderHierarchyResp struct {
	Msgs []struct {
		ResponseMessage
		SyncState string           `xml:"SyncState"`
		Last      bool             `xml:"IncludesLastFolderInRange"`
		Create    []gwFolderChange `xml:"Changes>Create"`
		Update    []gwFolderChange `xml:"Changes>Update"`
	} `xml:"ResponseMessages>SyncFolderHierarchyResponseMessage"`
}

type gwGetFolder struct {
	XMLName   xml.Name     `xml:"m:GetFolder"`
	BaseShape string       `xml:"m:FolderShape>t:BaseShape"`
	Props     []gwFieldURI `xml:"m:FolderShape>t:AdditionalProperties>t:FieldURI"`
	IDs       gwFolderIDs  `xml:"m:FolderIds"`
}

type gwGetFolderResp struct {
	Msgs []struct {
		ResponseMessage
		Folders struct {
			List []gwFolder `xml:",any"`
		} `xml:"Folders"`
	} `xml:"ResponseMessages>GetFolderResponseMessage"`
}

// hierarchy lists every folder of mbx under the message folder root (SyncFolderHierarchy
// from the beginning, every page), in the order the server gives them.
func hierarchy(ctx context.Context, c *Client, mbx model.Mailbox) ([]gwFolder, error) {
	var out []gwFolder
	seen := map[string]int{}
	state := ""
	for range 10000 {
		var resp gwSyncFolderHierarchyResp
		req := gwSyncFolderHierarchy{BaseShape: "Default", SyncState: state,
			Props: []gwFieldURI{{"folder:FolderClass"}, {"folder:ParentFolderId"}, {"folder:DisplayName"}, {"folder:TotalCount"}, {"folder:EffectiveRights"}}}
		if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			return nil, err
		}
		if len(resp.Msgs) == 0 {
			return nil, model.Retryable(fmt.Errorf("ews: SyncFolderHierarchy of %s: empty answer", mbx.Address))
		}
		m := resp.Msgs[0]
		if err := m.Err("SyncFolderHierarchy", mbx.Address); err != nil {
			return nil, err
		}
		for _, ch := range slices.Concat(m.Create, m.Update) {
			for _, f := range ch.Folders {
				if f.FolderID.ID == "" {
					continue
				}
				if i, ok := seen[f.FolderID.ID]; ok {
					out[i] = f
					continue
				}
				seen[f.FolderID.ID] = len(out)
				out = append(out, f)
			}
		}
		if m.Last || m.SyncState == "" || m.SyncState == state {
			return out, nil
		}
		state = m.SyncState
	}
	return nil, model.Permanent(fmt.Errorf("ews: SyncFolderHierarchy of %s never ends", mbx.Address))
}

// distinguished returns the ids of the named distinguished folders ("" for those the
// mailbox lacks).
func distinguished(ctx context.Context, c *Client, mbx model.Mailbox, names ...string) (map[string]string, error) {
	out := map[string]string{}
	req := gwGetFolder{BaseShape: "IdOnly"}
	for _, n := range names {
		req.IDs.Distinguished = append(req.IDs.Distinguished, gwIDRef{n})
	}
	var resp gwGetFolderResp
	if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return out, nil
		}
		return nil, err
	}
	for i, m := range resp.Msgs {
		if i >= len(names) || m.Failed() || len(m.Folders.List) == 0 {
			continue
		}
		out[names[i]] = m.Folders.List[0].FolderID.ID
	}
	return out, nil
}

// kindOf is the collection kind of a folder class ("" for mail and anything else).
func kindOf(class string) model.CollectionKind {
	c := strings.ToLower(class)
	switch {
	case c == "ipf.appointment" || strings.HasPrefix(c, "ipf.appointment."):
		return model.KindCalendar
	case c == "ipf.contact" || strings.HasPrefix(c, "ipf.contact."):
		return model.KindContacts
	case c == "ipf.task" || strings.HasPrefix(c, "ipf.task."):
		return model.KindTasks
	}
	return ""
}

// gwCollections lists mbx's calendar, contact and task folders whose kind is in kinds
// (empty = all), kind by kind (calendar, contacts, tasks), the distinguished folder of each
// kind first (Default). Search folders and the special contact folders Exchange keeps for
// itself (IPF.Contact.* subclasses such as the Skype for Business or recipient cache
// folders) are left out, as Graph leaves them out.
func gwCollections(ctx context.Context, c *Client, mbx model.Mailbox, kinds []model.CollectionKind) ([]model.Collection, error) {
	folders, err := hierarchy(ctx, c, mbx)
	if err != nil {
		return nil, err
	}
	defs, err := distinguished(ctx, c, mbx, "calendar", "contacts", "tasks")
	if err != nil {
		return nil, err
	}
	want := func(k model.CollectionKind) bool { return len(kinds) == 0 || slices.Contains(kinds, k) }
	var out []model.Collection
	for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts, model.KindTasks} {
		if !want(k) {
			continue
		}
		var cols []model.Collection
		for _, f := range folders {
			if f.XMLName.Local == "SearchFolder" || kindOf(f.FolderClass) != k {
				continue
			}
			if !strings.EqualFold(f.FolderClass, "IPF.Appointment") && !strings.EqualFold(f.FolderClass, "IPF.Contact") && !strings.EqualFold(f.FolderClass, "IPF.Task") {
				continue
			}
			col := model.Collection{ID: f.FolderID.ID, Kind: k, Name: f.DisplayName, TotalItems: f.TotalCount}
			if f.EffectiveRight != nil && !f.EffectiveRight.CreateContents {
				col.ReadOnly = true
			}
			switch k {
			case model.KindCalendar:
				col.Default = f.FolderID.ID == defs["calendar"]
			case model.KindContacts:
				col.Default = f.FolderID.ID == defs["contacts"]
			case model.KindTasks:
				col.Default = f.FolderID.ID == defs["tasks"]
			}
			cols = append(cols, col)
		}
		slices.SortStableFunc(cols, func(a, b model.Collection) int {
			switch {
			case a.Default == b.Default:
				return 0
			case a.Default:
				return -1
			}
			return 1
		})
		out = append(out, cols...)
	}
	return out, nil
}

// syncBatch is how many changes one SyncFolderItems call returns (EWS allows 1–512).
const syncBatch = 100

type gwSyncFolderItems struct {
	XMLName   xml.Name    `xml:"m:SyncFolderItems"`
	BaseShape string      `xml:"m:ItemShape>t:BaseShape"`
	Folder    gwFolderIDs `xml:"m:SyncFolderId"`
	SyncState string      `xml:"m:SyncState,omitempty"`
	Max       int         `xml:"m:MaxChangesReturned"`
}

// gwAnyItem is any item element of a sync change (t:CalendarItem, t:Contact, t:Message…).
type gwAnyItem struct {
	XMLName xml.Name
	ItemID  gwItemID `xml:"ItemId"`
}

type gwItemChange struct {
	XMLName xml.Name
	ItemID  gwItemID    `xml:"ItemId"` // Delete, ReadFlagChange
	Items   []gwAnyItem `xml:",any"`   // Create, Update
}

type gwSyncFolderItemsResp struct {
	Msgs []struct {
		ResponseMessage
		SyncState string `xml:"SyncState"`
		Last      bool   `xml:"IncludesLastItemInRange"`
		Changes   struct {
			List []gwItemChange `xml:",any"`
		} `xml:"Changes"`
	} `xml:"ResponseMessages>SyncFolderItemsResponseMessage"`
}

type gwGetItem struct {
	XMLName   xml.Name     `xml:"m:GetItem"`
	BaseShape string       `xml:"m:ItemShape>t:BaseShape"`
	BodyType  string       `xml:"m:ItemShape>t:BodyType,omitempty"`
	Props     []gwFieldURI `xml:"m:ItemShape>t:AdditionalProperties>t:FieldURI"`
	IDs       []gwIDRef    `xml:"m:ItemIds>t:ItemId"`
}

type gwGetItemResp struct {
	Msgs []struct {
		ResponseMessage
		Calendar []gwCalendarItem `xml:"Items>CalendarItem"`
		Contacts []gwContact      `xml:"Items>Contact"`
		Tasks    []gwTask         `xml:"Items>Task"`
	} `xml:"ResponseMessages>GetItemResponseMessage"`
}

type gwGetAttachment struct {
	XMLName xml.Name  `xml:"m:GetAttachment"`
	IDs     []gwIDRef `xml:"m:AttachmentIds>t:AttachmentId"`
}

type gwGetAttachmentResp struct {
	Msgs []struct {
		ResponseMessage
		Files []gwFileAttachment `xml:"Attachments>FileAttachment"`
	} `xml:"ResponseMessages>GetAttachmentResponseMessage"`
}

// Properties asked for on top of AllProperties: the time zone definitions, which
// AllProperties leaves out.
var calendarProps = []gwFieldURI{{"calendar:StartTimeZone"}, {"calendar:EndTimeZone"}, {"calendar:UID"},
	{"calendar:ModifiedOccurrences"}, {"calendar:DeletedOccurrences"}, {"calendar:Recurrence"}}

// getItems GETs items in full (AllProperties; bodies as HTML for events, text for
// contacts and tasks, as Graph gives them). An item gone in between is left out.
func getItems(ctx context.Context, c *Client, mbx model.Mailbox, kind model.CollectionKind, ids []string) (*gwGetItemResp, error) {
	req := gwGetItem{BaseShape: "AllProperties", BodyType: "Text"}
	switch kind {
	case model.KindCalendar:
		req.BodyType, req.Props = "Best", calendarProps
	}
	for _, id := range ids {
		req.IDs = append(req.IDs, gwIDRef{id})
	}
	var resp gwGetItemResp
	if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			// Every item of the batch is gone since the sync: the next pass sees the deletes.
			return &gwGetItemResp{}, nil
		}
		return nil, err
	}
	for i := range resp.Msgs {
		if err := resp.Msgs[i].Err("GetItem", mbx.Address); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			return nil, err
		}
	}
	return &resp, nil
}

// getAttachments returns the file attachments with their content.
func getAttachments(ctx context.Context, c *Client, mbx model.Mailbox, ids []string) ([]gwFileAttachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	req := gwGetAttachment{}
	for _, id := range ids {
		req.IDs = append(req.IDs, gwIDRef{id})
	}
	var resp gwGetAttachmentResp
	if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []gwFileAttachment
	for _, m := range resp.Msgs {
		if err := m.Err("GetAttachment", mbx.Address); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, m.Files...)
	}
	return out, nil
}

// itemElement is the item element a collection of kind holds.
func itemElement(kind model.CollectionKind) string {
	switch kind {
	case model.KindCalendar:
		return "CalendarItem"
	case model.KindContacts:
		return "Contact"
	}
	return "Task"
}

// gwRecords streams a collection's changes since cursor (a SyncState; "" = from the
// beginning): a page of SyncFolderItems, the new and changed items fetched in full and
// converted, the deleted ones as Deletes, then a Checkpoint carrying the page's SyncState
// (Final on the last page). Distribution lists in a contact folder and anything else that
// is not the collection's kind are left out, as Graph leaves them out. warn receives what
// an item could not carry (may be nil).
func gwRecords(ctx context.Context, c *Client, mbx model.Mailbox, col model.Collection, cursor string, warn func(string), yield func(extract.Change, error) bool) {
	what := fmt.Sprintf("%s folder %q of %s", col.Kind, col.Name, mbx.Address)
	state := cursor
	elem := itemElement(col.Kind)
	for {
		var resp gwSyncFolderItemsResp
		req := gwSyncFolderItems{BaseShape: "IdOnly", SyncState: state, Max: syncBatch,
			Folder: gwFolderIDs{Folder: []gwIDRef{{col.ID}}}}
		if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			yield(extract.Change{}, fmt.Errorf("ews: syncing %s: %w", what, err))
			return
		}
		if len(resp.Msgs) == 0 {
			yield(extract.Change{}, model.Retryable(fmt.Errorf("ews: syncing %s: empty answer", what)))
			return
		}
		m := resp.Msgs[0]
		if err := m.Err("SyncFolderItems", mbx.Address); err != nil {
			yield(extract.Change{}, fmt.Errorf("ews: syncing %s: %w", what, err))
			return
		}
		var ids []string
		var changes []extract.Change // in order; Upserts filled in below
		at := map[string]int{}
		for _, ch := range m.Changes.List {
			switch ch.XMLName.Local {
			case "Create", "Update":
				for _, it := range ch.Items {
					if it.XMLName.Local != elem || it.ItemID.ID == "" {
						continue
					}
					if i, dup := at[it.ItemID.ID]; dup {
						changes[i].Kind = 0 // an earlier change of the same item: the later one wins
					}
					at[it.ItemID.ID] = len(changes)
					ids = append(ids, it.ItemID.ID)
					changes = append(changes, extract.Change{Kind: extract.Upsert,
						Record: model.Record{ID: it.ItemID.ID, CollectionID: col.ID, Kind: col.Kind}})
				}
			case "Delete":
				if ch.ItemID.ID != "" {
					changes = append(changes, extract.Change{Kind: extract.Delete,
						Record: model.Record{ID: ch.ItemID.ID, CollectionID: col.ID, Kind: col.Kind}})
				}
			}
		}
		recs, err := fullRecords(ctx, c, mbx, col, ids, warn)
		if err != nil {
			yield(extract.Change{}, fmt.Errorf("ews: reading %s: %w", what, err))
			return
		}
		for _, ch := range changes {
			if ch.Kind == 0 {
				continue
			}
			if ch.Kind == extract.Upsert {
				r, ok := recs[ch.Record.ID]
				if !ok {
					continue // gone since the sync: the next pass sees its Delete
				}
				ch.Record = r
			}
			if !yield(ch, nil) {
				return
			}
		}
		if m.SyncState == "" {
			yield(extract.Change{}, model.Retryable(fmt.Errorf("ews: syncing %s: answer without SyncState", what)))
			return
		}
		last := m.Last || (len(m.Changes.List) == 0 && m.SyncState == state)
		if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: m.SyncState, Final: last}, nil) || last {
			return
		}
		state = m.SyncState
	}
}

// getBatch is how many items one GetItem asks for.
const getBatch = 20

// fullRecords GETs the items ids in full and converts them, keyed by id.
func fullRecords(ctx context.Context, c *Client, mbx model.Mailbox, col model.Collection, ids []string, warn func(string)) (map[string]model.Record, error) {
	out := map[string]model.Record{}
	for len(ids) > 0 {
		n := min(len(ids), getBatch)
		batch := ids[:n]
		ids = ids[n:]
		resp, err := getItems(ctx, c, mbx, col.Kind, batch)
		if err != nil {
			return nil, err
		}
		for _, m := range resp.Msgs {
			if m.Failed() {
				continue
			}
			for i := range m.Calendar {
				r, err := calendarRecord(ctx, c, mbx, col, &m.Calendar[i])
				if err != nil {
					return nil, err
				}
				out[r.ID] = r
			}
			for i := range m.Contacts {
				r, err := contactRecord(ctx, c, mbx, col, &m.Contacts[i])
				if err != nil {
					return nil, err
				}
				out[r.ID] = r
			}
			for i := range m.Tasks {
				k := &m.Tasks[i]
				payload, w, err := gwTaskJSON(k)
				if err != nil {
					return nil, model.Permanent(err)
				}
				if w != "" && warn != nil {
					warn(w)
				}
				out[k.ItemID.ID] = model.Record{ID: k.ItemID.ID, ChangeKey: k.ItemID.ChangeKey, CollectionID: col.ID,
					Kind: col.Kind, Payload: payload, Subject: k.Subject}
			}
		}
	}
	return out, nil
}

// calendarRecord completes a calendar item: its exceptions (GetItem of the modified
// occurrences) and its attachments' content (GetAttachment), then converts it.
func calendarRecord(ctx context.Context, c *Client, mbx model.Mailbox, col model.Collection, it *gwCalendarItem) (model.Record, error) {
	var exceptions []*gwCalendarItem
	if len(it.ModifiedOccurrences) > 0 {
		var ids []string
		for _, o := range it.ModifiedOccurrences {
			if o.ItemID.ID != "" {
				ids = append(ids, o.ItemID.ID)
			}
		}
		for len(ids) > 0 {
			n := min(len(ids), getBatch)
			resp, err := getItems(ctx, c, mbx, model.KindCalendar, ids[:n])
			if err != nil {
				return model.Record{}, err
			}
			ids = ids[n:]
			for _, m := range resp.Msgs {
				if m.Failed() {
					continue
				}
				for i := range m.Calendar {
					exceptions = append(exceptions, &m.Calendar[i])
				}
			}
		}
	}
	var attIDs []string
	for _, a := range it.Attachments.Files {
		if a.AttachmentID.ID != "" {
			attIDs = append(attIDs, a.AttachmentID.ID)
		}
	}
	atts, err := getAttachments(ctx, c, mbx, attIDs)
	if err != nil {
		return model.Record{}, err
	}
	payload, err := gwEvent(it, exceptions, atts)
	if err != nil {
		return model.Record{}, model.Permanent(err)
	}
	return model.Record{ID: it.ItemID.ID, ChangeKey: it.ItemID.ChangeKey, CollectionID: col.ID, Kind: col.Kind,
		Payload: payload, Subject: it.Subject}, nil
}

// contactRecord converts a contact and reads its photo (the IsContactPhoto attachment).
func contactRecord(ctx context.Context, c *Client, mbx model.Mailbox, col model.Collection, k *gwContact) (model.Record, error) {
	payload, err := gwContactJSON(k)
	if err != nil {
		return model.Record{}, model.Permanent(err)
	}
	r := model.Record{ID: k.ItemID.ID, ChangeKey: k.ItemID.ChangeKey, CollectionID: col.ID, Kind: col.Kind,
		Payload: payload, Subject: k.DisplayName}
	if p, ok := k.photo(); ok && p.AttachmentID.ID != "" {
		atts, err := getAttachments(ctx, c, mbx, []string{p.AttachmentID.ID})
		if err != nil {
			return model.Record{}, err
		}
		if len(atts) > 0 {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(atts[0].Content))
			if err != nil {
				return model.Record{}, model.Permanent(fmt.Errorf("ews: photo of contact %s is not base64", k.ItemID.ID))
			}
			r.Photo = b
		}
	}
	return r, nil
}
