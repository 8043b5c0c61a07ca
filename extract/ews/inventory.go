package ews

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Inventory (extract.Inventory) over EWS. Requests per mailbox:
//
//   - MailboxInfo: 1 GetFolder of archivemsgfolderroot (ErrorFolderNotFound: no archive).
//     EWS does not say whether a mailbox is shared or a room: Type stays "" (the audit takes
//     it from Exchange's Get-Mailbox export, RecipientTypeDetails).
//   - FolderStats: ⌈F/1000⌉ FindFolder Deep from msgfolderroot (F folders) with TotalCount,
//     ChildFolderCount, FolderClass and PR_MESSAGE_SIZE_EXTENDED (0x0E08, Long).
//   - LargeItems: ⌈M/invBatch⌉ FindItem over the M non-empty mail folders at once (one
//     ParentFolderIds list), restricted to item:Size greater than the threshold, sorted by
//     size descending, at most limit per folder; TotalItemsInView per folder gives the count.
//   - SeriesStats: 1 FindItem restricted to calendar:CalendarItemType RecurringMaster (ids
//     only; pages of 1000), then ⌈S/invBatch⌉ GetItem of the masters for their
//     ModifiedOccurrences.

var _ extract.Inventory = (*Source)(nil)

const invBatch = 100

// lastStats keeps the mail folders of each mailbox's last FolderStats until its LargeItems
// call uses them (an audit calls one after the other).
var lastStats sync.Map // statsKey → []extract.FolderStat

type statsKey struct {
	s    *Source
	addr string
}

// MailboxInfo tells whether the mailbox has an archive.
func (s *Source) MailboxInfo(ctx context.Context, mbx model.Mailbox) (extract.MailboxInfo, error) {
	var info extract.MailboxInfo
	var resp getFolderResponse
	req := getFolder{Shape: Shape{BaseShape: "IdOnly"}, IDs: []FolderRef{{Distinguished: s.c.Distinguished("archivemsgfolderroot", mbx.Address)}}}
	err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp)
	switch {
	case errors.Is(err, model.ErrNotFound):
		info.Known = true // the mailbox exists; no archive folder root
		return info, nil
	case err != nil:
		return info, err
	}
	if len(resp.Messages) > 0 {
		m := resp.Messages[0]
		if err := m.Err("GetFolder", mbx.Address); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				info.Known = true
				return info, nil
			}
			return info, err
		}
		info.Known, info.Archive = true, len(m.Folders.List) > 0
	}
	return info, nil
}

type invPaging struct {
	Max    int    `xml:"MaxEntriesReturned,attr"`
	Offset int    `xml:"Offset,attr"`
	Base   string `xml:"BasePoint,attr"`
}

type invFindFolder struct {
	XMLName   xml.Name    `xml:"m:FindFolder"`
	Traversal string      `xml:"Traversal,attr"`
	Shape     Shape       `xml:"m:FolderShape"`
	Paging    invPaging   `xml:"m:IndexedPageFolderView"`
	Parents   []FolderRef `xml:"m:ParentFolderIds>x"`
}

type invExtProp struct {
	URI struct {
		Tag  string `xml:"PropertyTag,attr"`
		Type string `xml:"PropertyType,attr"`
	} `xml:"ExtendedFieldURI"`
	Value string `xml:"Value"`
}

type invFolder struct {
	FolderID       ItemID       `xml:"FolderId"`
	ParentFolderID ItemID       `xml:"ParentFolderId"`
	FolderClass    string       `xml:"FolderClass"`
	DisplayName    string       `xml:"DisplayName"`
	TotalCount     int64        `xml:"TotalCount"`
	Children       int          `xml:"ChildFolderCount"`
	Extended       []invExtProp `xml:"ExtendedProperty"`
}

type invFindFolderResp struct {
	Msgs []struct {
		ResponseMessage
		Root struct {
			Offset int  `xml:"IndexedPagingOffset,attr"`
			Total  int  `xml:"TotalItemsInView,attr"`
			Last   bool `xml:"IncludesLastItemInRange,attr"`
			List   struct {
				Folders []invFolder `xml:",any"`
			} `xml:"Folders"`
		} `xml:"RootFolder"`
	} `xml:"ResponseMessages>FindFolderResponseMessage"`
}

func sizeProp(props []invExtProp) (int64, bool) {
	for _, p := range props {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(p.URI.Tag), "0x"), 16, 32)
		if err == nil && n == 0x0e08 {
			v, err := strconv.ParseInt(strings.TrimSpace(p.Value), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// folderKind maps a folder class to the kind of FolderStats.
func folderKind(class string) extract.FolderKind {
	c := strings.ToLower(class)
	switch {
	case c == "" || c == "ipf.note" || strings.HasPrefix(c, "ipf.note."):
		return extract.FolderMail
	case kindOf(class) != "":
		return extract.FolderKind(kindOf(class))
	}
	return extract.FolderOther
}

// FolderStats lists every folder under msgfolderroot (FindFolder Deep, pages of 1000).
// Mail folders keep their path from msgfolderroot; calendars, contact folders and task
// lists are collections named by their own name, as the groupware migration makes them.
func (s *Source) FolderStats(ctx context.Context, mbx model.Mailbox) ([]extract.FolderStat, error) {
	root, err := s.root(ctx, mbx.Address)
	if err != nil {
		return nil, err
	}
	var all []invFolder
	for offset := 0; ; {
		req := invFindFolder{Traversal: "Deep",
			Shape: Shape{BaseShape: "IdOnly", Additional: []PathURI{{Field: "folder:ParentFolderId"}, {Field: "folder:FolderClass"},
				{Field: "folder:DisplayName"}, {Field: "folder:TotalCount"}, {Field: "folder:ChildFolderCount"},
				{Tag: "0x0E08", Type: "Long"}}},
			Paging:  invPaging{Max: 1000, Offset: offset, Base: "Beginning"},
			Parents: []FolderRef{{Folder: &ItemID{ID: root}}}}
		var resp invFindFolderResp
		if err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			return nil, err
		}
		if len(resp.Msgs) == 0 {
			return nil, model.Retryable(fmt.Errorf("ews: FindFolder of %s: empty answer", mbx.Address))
		}
		m := resp.Msgs[0]
		if err := m.Err("FindFolder", mbx.Address); err != nil {
			return nil, err
		}
		all = append(all, m.Root.List.Folders...)
		if m.Root.Last || len(m.Root.List.Folders) == 0 || m.Root.Offset <= offset {
			break
		}
		offset = m.Root.Offset
	}
	byID := map[string]invFolder{}
	for _, f := range all {
		byID[f.FolderID.ID] = f
	}
	pathOf := func(f invFolder) []string {
		var p []string
		for range 256 {
			p = append(p, f.DisplayName)
			parent, ok := byID[f.ParentFolderID.ID]
			if !ok || f.ParentFolderID.ID == root {
				break
			}
			f = parent
		}
		slices.Reverse(p)
		return p
	}
	var out []extract.FolderStat
	for _, f := range all {
		kind := folderKind(f.FolderClass)
		st := extract.FolderStat{ID: f.FolderID.ID, ParentID: f.ParentFolderID.ID, Kind: kind, Items: f.TotalCount, Children: f.Children}
		if st.ParentID == root {
			st.ParentID = ""
		}
		if kind == extract.FolderMail || kind == extract.FolderOther {
			st.Path = pathOf(f)
		} else {
			st.Path = []string{f.DisplayName}
		}
		st.Bytes, st.HasBytes = sizeProp(f.Extended)
		out = append(out, st)
	}
	var mail []extract.FolderStat
	for _, f := range out {
		if f.Kind == extract.FolderMail {
			mail = append(mail, f)
		}
	}
	lastStats.Store(statsKey{s, strings.ToLower(mbx.Address)}, mail)
	// Mail folders first, then calendars, contacts, tasks (FindFolder Deep gives parents
	// before children within each).
	slices.SortStableFunc(out, func(a, b extract.FolderStat) int {
		if a.Kind != b.Kind {
			return kindRank(a.Kind) - kindRank(b.Kind)
		}
		return 0
	})
	return out, nil
}

func kindRank(k extract.FolderKind) int {
	switch k {
	case extract.FolderMail:
		return 0
	case extract.FolderCalendar:
		return 1
	case extract.FolderContacts:
		return 2
	case extract.FolderTasks:
		return 3
	}
	return 4
}

// invCompare is one comparison of a Restriction (t:IsGreaterThan, t:IsEqualTo…): its
// property path, then FieldURIOrConstant/Constant.
type invCompare struct {
	Op       string // element name, e.g. "t:IsGreaterThan"
	Path     PathURI
	Constant string
}

// MarshalXML writes the comparison element itself (no wrapper).
func (c invCompare) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	st := xml.StartElement{Name: xml.Name{Local: c.Op}}
	if err := e.EncodeToken(st); err != nil {
		return err
	}
	if err := e.Encode(c.Path); err != nil {
		return err
	}
	v := struct {
		XMLName xml.Name `xml:"t:FieldURIOrConstant"`
		C       struct {
			Value string `xml:"Value,attr"`
		} `xml:"t:Constant"`
	}{}
	v.C.Value = c.Constant
	if err := e.Encode(v); err != nil {
		return err
	}
	return e.EncodeToken(st.End())
}

type invFieldOrder struct {
	Order string  `xml:"Order,attr"`
	Path  PathURI `xml:"x"` // PathURI writes its own element
}

type invFindItem struct {
	XMLName     xml.Name        `xml:"m:FindItem"`
	Traversal   string          `xml:"Traversal,attr"`
	Shape       Shape           `xml:"m:ItemShape"`
	Paging      invPaging       `xml:"m:IndexedPageItemView"`
	Restriction *invCompare     `xml:"m:Restriction>x,omitempty"`
	Sort        []invFieldOrder `xml:"m:SortOrder>t:FieldOrder,omitempty"`
	Parents     []FolderRef     `xml:"m:ParentFolderIds>x"`
}

type invItem struct {
	XMLName  xml.Name
	ItemID   ItemID    `xml:"ItemId"`
	Parent   ItemID    `xml:"ParentFolderId"`
	Subject  string    `xml:"Subject"`
	Received time.Time `xml:"DateTimeReceived"`
	Size     int64     `xml:"Size"`
}

type invFindItemResp struct {
	Msgs []struct {
		ResponseMessage
		Root struct {
			Offset int  `xml:"IndexedPagingOffset,attr"`
			Total  int  `xml:"TotalItemsInView,attr"`
			Last   bool `xml:"IncludesLastItemInRange,attr"`
			Items  struct {
				List []invItem `xml:",any"`
			} `xml:"Items"`
		} `xml:"RootFolder"`
	} `xml:"ResponseMessages>FindItemResponseMessage"`
}

// LargeItems asks every non-empty mail folder at once (batches of invBatch folders) for
// its items over minSize, largest first.
func (s *Source) LargeItems(ctx context.Context, mbx model.Mailbox, minSize int64, limit int) (extract.LargeItems, error) {
	var res extract.LargeItems
	var stats []extract.FolderStat
	if v, ok := lastStats.LoadAndDelete(statsKey{s, strings.ToLower(mbx.Address)}); ok {
		stats = v.([]extract.FolderStat) // the audit's FolderStats just before: no second listing
	} else {
		var err error
		if stats, err = s.FolderStats(ctx, mbx); err != nil {
			return res, err
		}
		lastStats.Delete(statsKey{s, strings.ToLower(mbx.Address)})
	}
	var ids []string
	for _, f := range stats {
		if f.Kind == extract.FolderMail && f.Items > 0 && (!f.HasBytes || f.Bytes > minSize) {
			ids = append(ids, f.ID)
		}
	}
	limit = max(limit, 1)
	for chunk := range slices.Chunk(ids, invBatch) {
		req := invFindItem{Traversal: "Shallow",
			Shape: Shape{BaseShape: "IdOnly", Additional: []PathURI{{Field: "item:ParentFolderId"}, {Field: "item:Subject"},
				{Field: "item:DateTimeReceived"}, {Field: "item:Size"}}},
			Paging:      invPaging{Max: limit, Offset: 0, Base: "Beginning"},
			Restriction: &invCompare{Op: "t:IsGreaterThan", Path: PathURI{Field: "item:Size"}, Constant: strconv.FormatInt(minSize, 10)},
			Sort:        []invFieldOrder{{Order: "Descending", Path: PathURI{Field: "item:Size"}}}}
		for _, id := range chunk {
			req.Parents = append(req.Parents, FolderRef{Folder: &ItemID{ID: id}})
		}
		var resp invFindItemResp
		if err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			return res, err
		}
		for i, m := range resp.Msgs {
			if err := m.Err("FindItem", mbx.Address); err != nil {
				if errors.Is(err, model.ErrNotFound) {
					continue // the folder went away since the listing
				}
				return res, err
			}
			res.Total += int64(m.Root.Total)
			if !m.Root.Last {
				res.Capped = true
			}
			for _, it := range m.Root.Items.List {
				folder := it.Parent.ID
				if folder == "" && i < len(chunk) {
					folder = chunk[i]
				}
				res.Items = append(res.Items, extract.LargeItem{ID: it.ItemID.ID, FolderID: folder, Subject: it.Subject,
					Size: it.Size, Received: it.Received})
			}
		}
	}
	slices.SortStableFunc(res.Items, func(a, b extract.LargeItem) int {
		switch {
		case a.Size > b.Size:
			return -1
		case a.Size < b.Size:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(res.Items) > limit {
		res.Items = res.Items[:limit]
	}
	// Every item over minSize was returned, unless a folder had more than limit of them.
	if int64(len(res.Items)) < res.Total {
		res.Capped = true
	}
	return res, nil
}

// SeriesStats counts the recurring masters of a calendar folder and their modified
// occurrences.
func (s *Source) SeriesStats(ctx context.Context, mbx model.Mailbox, cal extract.FolderStat) (series, exceptions int64, err error) {
	var ids []string
	for offset := 0; ; {
		req := invFindItem{Traversal: "Shallow", Shape: Shape{BaseShape: "IdOnly"},
			Paging:      invPaging{Max: 1000, Offset: offset, Base: "Beginning"},
			Restriction: &invCompare{Op: "t:IsEqualTo", Path: PathURI{Field: "calendar:CalendarItemType"}, Constant: "RecurringMaster"},
			Parents:     []FolderRef{{Folder: &ItemID{ID: cal.ID}}}}
		var resp invFindItemResp
		if err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			return 0, 0, err
		}
		if len(resp.Msgs) == 0 {
			return 0, 0, model.Retryable(fmt.Errorf("ews: FindItem of %s: empty answer", mbx.Address))
		}
		m := resp.Msgs[0]
		if err := m.Err("FindItem", mbx.Address); err != nil {
			return 0, 0, err
		}
		for _, it := range m.Root.Items.List {
			ids = append(ids, it.ItemID.ID)
		}
		if m.Root.Last || len(m.Root.Items.List) == 0 || m.Root.Offset <= offset {
			break
		}
		offset = m.Root.Offset
	}
	series = int64(len(ids))
	for chunk := range slices.Chunk(ids, invBatch) {
		req := gwGetItem{BaseShape: "IdOnly", Props: []gwFieldURI{{"calendar:ModifiedOccurrences"}}}
		for _, id := range chunk {
			req.IDs = append(req.IDs, gwIDRef{id})
		}
		var resp gwGetItemResp
		if err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			return 0, 0, err
		}
		for _, m := range resp.Msgs {
			if err := m.Err("GetItem", mbx.Address); err != nil {
				if errors.Is(err, model.ErrNotFound) {
					continue
				}
				return 0, 0, err
			}
			for _, it := range m.Calendar {
				exceptions += int64(len(it.ModifiedOccurrences))
			}
		}
	}
	return series, exceptions, nil
}
