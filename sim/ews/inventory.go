package ews

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// What an audit (extract.Inventory over EWS) asks, served here:
//
//   - folder sizes: FindFolder / GetFolder with the ExtendedFieldURI PropertyTag 0x0E08
//     PropertyType Long (PR_MESSAGE_SIZE_EXTENDED) add each mail folder's size as an
//     ExtendedProperty (the tenant holds no sizes for calendar, contact or task items: those
//     folders get none);
//   - FindItem (Shallow, one RootFolder per ParentFolderId) over mail and calendar folders,
//     with an IndexedPageItemView, an optional Restriction (IsGreaterThan or
//     IsGreaterThanOrEqualTo on item:Size or the 0x0E08 property; IsEqualTo on
//     calendar:CalendarItemType RecurringMaster / Single) and SortOrder on item:Size or
//     item:DateTimeReceived; items carry ItemId, ParentFolderId, Subject, DateTimeReceived and
//     Size (IdOnly: ItemId only, and what AdditionalProperties ask).
//
// Requests are counted per mailbox acted for (MailboxCounts).

type inventory struct {
	mu    sync.Mutex
	byBox map[string]int64
}

func (s *Server) countMailbox(c *Call) {
	if !c.HasMailbox {
		return
	}
	s.inv.mu.Lock()
	if s.inv.byBox == nil {
		s.inv.byBox = map[string]int64{}
	}
	s.inv.byBox[c.Mailbox.ID]++
	s.inv.mu.Unlock()
}

// MailboxCounts returns the number of EWS operations received per mailbox (tenant user id)
// acted for — impersonated, or the caller's own — since the last ResetMailboxCounts.
func (s *Server) MailboxCounts() map[string]int64 {
	s.inv.mu.Lock()
	defer s.inv.mu.Unlock()
	out := make(map[string]int64, len(s.inv.byBox))
	for k, v := range s.inv.byBox {
		out[k] = v
	}
	return out
}

// ResetMailboxCounts sets every per-mailbox count to zero.
func (s *Server) ResetMailboxCounts() {
	s.inv.mu.Lock()
	s.inv.byBox = nil
	s.inv.mu.Unlock()
}

func isSizeTag(tag string) bool {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(tag)), "0x"), 16, 32)
	return err == nil && n == 0x0e08
}

// folderExtendedXML renders the ExtendedProperty elements shape asks for on folder f.
func (c *Call) folderExtendedXML(u tenant.User, f efolder, shape *folderShape) string {
	var b strings.Builder
	for _, x := range shape.Additional.Extended {
		if !isSizeTag(x.PropertyTag) || f.Class != classMail {
			continue
		}
		var size int64
		for _, m := range c.s.ten.Messages(u.ID) {
			if m.FolderID == f.ID {
				size += m.Size
			}
		}
		fmt.Fprintf(&b, `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0xe08" PropertyType="%s"/><t:Value>%d</t:Value></t:ExtendedProperty>`,
			esc(cmpOr(x.PropertyType, "Long")), size)
	}
	return b.String()
}

type findRestriction struct {
	Cmp []struct {
		XMLName  xml.Name
		FieldURI *struct {
			URI string `xml:"FieldURI,attr"`
		} `xml:"FieldURI"`
		Extended *extendedFieldURI `xml:"ExtendedFieldURI"`
		Constant struct {
			Value string `xml:"Value,attr"`
		} `xml:"FieldURIOrConstant>Constant"`
	} `xml:",any"`
}

type invItem struct {
	elem, id, ck, folder, subject, received string
	size                                    int64
	recurring                               string // calendar: RecurringMaster | Single
}

func init() { register("FindItem", findItem) }

// findItem answers FindItem over mail and calendar folders (see the file comment).
func findItem(c *Call) error {
	var req struct {
		Traversal string    `xml:"Traversal,attr"`
		Shape     itemShape `xml:"ItemShape"`
		Paging    *struct {
			Max    string `xml:"MaxEntriesReturned,attr"`
			Offset string `xml:"Offset,attr"`
		} `xml:"IndexedPageItemView"`
		Restriction *findRestriction `xml:"Restriction"`
		Sort        []struct {
			Order    string `xml:"Order,attr"`
			FieldURI struct {
				URI string `xml:"FieldURI,attr"`
			} `xml:"FieldURI"`
		} `xml:"SortOrder>FieldOrder"`
		Parents folderRefs `xml:"ParentFolderIds"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	if t := strings.ToLower(req.Traversal); t != "" && t != "shallow" {
		return faultf("ErrorInvalidRequest", "The request is invalid: only Shallow traversal of a mail or calendar folder is supported here.")
	}
	c.begin()
	for _, r := range req.Parents {
		f, u, code, text := c.resolveFolder(r)
		if code != "" {
			c.fail(code, text)
			continue
		}
		var items []invItem
		switch f.Class {
		case classMail:
			for _, m := range c.s.ten.Messages(u.ID) {
				if m.FolderID == f.ID {
					items = append(items, invItem{elem: "Message", id: m.ID, ck: m.ChangeKey, folder: f.ID,
						subject: m.Subject, received: isoTime(m.Received), size: m.Size})
				}
			}
		case classCalendar:
			for _, e := range c.s.ten.Events(u.ID, f.ID) {
				kind := "Single"
				if e.Type == "seriesMaster" {
					kind = "RecurringMaster"
				}
				items = append(items, invItem{elem: "CalendarItem", id: e.ID, ck: e.ChangeKey, folder: f.ID,
					subject: e.Subject, received: isoTime(e.Created), recurring: kind})
			}
		default:
			c.fail("ErrorInvalidOperation", "FindItem over this folder class is not supported by the emulator.")
			continue
		}
		var err error
		if items, err = restrict(items, req.Restriction); err != nil {
			c.fail("ErrorInvalidRestriction", err.Error())
			continue
		}
		for i := len(req.Sort) - 1; i >= 0; i-- {
			o := req.Sort[i]
			desc := strings.EqualFold(o.Order, "Descending")
			slices.SortStableFunc(items, func(a, b invItem) int {
				var d int
				switch strings.ToLower(o.FieldURI.URI) {
				case "item:size":
					d = cmpInt(a.size, b.size)
				default:
					d = strings.Compare(a.received, b.received)
				}
				if desc {
					d = -d
				}
				return d
			})
		}
		total := len(items)
		offset, n := 0, total
		if req.Paging != nil {
			offset, _ = strconv.Atoi(req.Paging.Offset)
			if m, err := strconv.Atoi(req.Paging.Max); err == nil && m > 0 {
				n = m
			}
			offset = min(max0(offset), total)
		}
		end := min(total, offset+n)
		var b strings.Builder
		fmt.Fprintf(&b, `<m:RootFolder IndexedPagingOffset="%d" TotalItemsInView="%d" IncludesLastItemInRange="%t"><t:Items>`, end, total, end >= total)
		for _, it := range items[offset:end] {
			b.WriteString(invItemXML(it, &req.Shape))
		}
		b.WriteString(`</t:Items></m:RootFolder>`)
		c.ok(b.String())
	}
	c.end()
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// restrict applies a Restriction of one comparison.
func restrict(items []invItem, r *findRestriction) ([]invItem, error) {
	if r == nil || len(r.Cmp) == 0 {
		return items, nil
	}
	if len(r.Cmp) > 1 {
		return nil, fmt.Errorf("only one comparison is supported")
	}
	x := r.Cmp[0]
	field := ""
	switch {
	case x.FieldURI != nil:
		field = strings.ToLower(x.FieldURI.URI)
	case x.Extended != nil && isSizeTag(x.Extended.PropertyTag):
		field = "item:size"
	}
	var out []invItem
	switch field {
	case "item:size":
		v, err := strconv.ParseInt(x.Constant.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the constant %q is not a number", x.Constant.Value)
		}
		for _, it := range items {
			ok := false
			switch x.XMLName.Local {
			case "IsGreaterThan":
				ok = it.size > v
			case "IsGreaterThanOrEqualTo":
				ok = it.size >= v
			case "IsLessThan":
				ok = it.size < v
			case "IsEqualTo":
				ok = it.size == v
			default:
				return nil, fmt.Errorf("%s is not supported", x.XMLName.Local)
			}
			if ok {
				out = append(out, it)
			}
		}
	case "calendar:calendaritemtype":
		if x.XMLName.Local != "IsEqualTo" {
			return nil, fmt.Errorf("%s is not supported on calendar:CalendarItemType", x.XMLName.Local)
		}
		for _, it := range items {
			if it.recurring != "" && strings.EqualFold(it.recurring, x.Constant.Value) {
				out = append(out, it)
			}
		}
	default:
		return nil, fmt.Errorf("the restriction's property is not supported")
	}
	return out, nil
}

// invItemXML renders a FindItem item in types.xsd order (ItemId, ParentFolderId, Subject,
// DateTimeReceived, Size).
func invItemXML(it invItem, shape *itemShape) string {
	all := shape.base() != "idonly"
	want := func(uri string) bool {
		if all {
			return true
		}
		for _, f := range shape.Additional.FieldURI {
			if strings.EqualFold(f.URI, uri) {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<t:%s><t:ItemId Id="%s" ChangeKey="%s"/>`, it.elem, esc(it.id), esc(it.ck))
	if want("item:ParentFolderId") {
		fmt.Fprintf(&b, `<t:ParentFolderId Id="%s"/>`, esc(it.folder))
	}
	if want("item:Subject") {
		fmt.Fprintf(&b, `<t:Subject>%s</t:Subject>`, esc(it.subject))
	}
	if want("item:DateTimeReceived") {
		fmt.Fprintf(&b, `<t:DateTimeReceived>%s</t:DateTimeReceived>`, it.received)
	}
	if want("item:Size") && it.elem == "Message" {
		fmt.Fprintf(&b, `<t:Size>%d</t:Size>`, it.size)
	}
	if it.elem == "CalendarItem" && want("calendar:CalendarItemType") {
		fmt.Fprintf(&b, `<t:CalendarItemType>%s</t:CalendarItemType>`, it.recurring)
	}
	fmt.Fprintf(&b, `</t:%s>`, it.elem)
	return b.String()
}
