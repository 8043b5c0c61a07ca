package ews

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// itemShape is an ItemShape (GetItem, SyncFolderItems, FindItem).
type itemShape struct {
	BaseShape          string `xml:"BaseShape"`
	IncludeMimeContent bool   `xml:"IncludeMimeContent"`
	BodyType           string `xml:"BodyType"`
	Additional         struct {
		FieldURI []struct {
			URI string `xml:"FieldURI,attr"`
		} `xml:"FieldURI"`
		Extended []extendedFieldURI `xml:"ExtendedFieldURI"`
	} `xml:"AdditionalProperties"`
}

// extendedFieldURI is an ExtendedFieldURI (only PropertyTag ones are answered).
type extendedFieldURI struct {
	PropertyTag  string `xml:"PropertyTag,attr"`
	PropertyType string `xml:"PropertyType,attr"`
}

// has tells whether uri (e.g. "message:IsRead") is among the additional properties.
func (s *itemShape) has(uri string) bool {
	for _, f := range s.Additional.FieldURI {
		if strings.EqualFold(f.URI, uri) {
			return true
		}
	}
	return false
}

// base returns the lower-case BaseShape ("idonly", "default", "allproperties").
func (s *itemShape) base() string { return strings.ToLower(strings.TrimSpace(s.BaseShape)) }

// itemRef is one element of an ItemIds list: ItemId, OccurrenceItemId or
// RecurringMasterItemId.
type itemRef struct {
	Kind              string // local name of the element
	ID, ChangeKey     string // ItemId
	RecurringMasterID string // OccurrenceItemId@RecurringMasterId
	InstanceIndex     int    // OccurrenceItemId@InstanceIndex
	OccurrenceID      string // RecurringMasterItemId@OccurrenceId
}

// itemRefs decodes a list of item ids in order.
type itemRefs []itemRef

func (ir *itemRefs) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var r struct {
				ID            string `xml:"Id,attr"`
				ChangeKey     string `xml:"ChangeKey,attr"`
				Master        string `xml:"RecurringMasterId,attr"`
				InstanceIndex string `xml:"InstanceIndex,attr"`
				OccurrenceID  string `xml:"OccurrenceId,attr"`
			}
			if err := d.DecodeElement(&r, &t); err != nil {
				return err
			}
			ix, _ := strconv.Atoi(r.InstanceIndex)
			*ir = append(*ir, itemRef{Kind: t.Name.Local, ID: r.ID, ChangeKey: r.ChangeKey,
				RecurringMasterID: r.Master, InstanceIndex: ix, OccurrenceID: r.OccurrenceID})
		case xml.EndElement:
			return nil
		}
	}
}

// syncItem is one item of a folder as SyncFolderItems compares them.
type syncItem struct {
	ID, ChangeKey string
	// Sig fingerprints everything but the read state; Read is the read state (nil for items
	// without one). A change of Read alone is a ReadFlagChange, any other an Update.
	Sig  string
	Read *bool
	// XML renders the item element (<t:Message>…) in the sync's ItemShape.
	XML func() string
}

// itemSource serves the items of one folder class for GetItem and SyncFolderItems. The
// groupware file(s) register theirs for IPF.Appointment, IPF.Contact and IPF.Task with
// registerItemSource.
type itemSource interface {
	// syncItems lists the items of folder f of mailbox u, oldest change first.
	syncItems(c *Call, u tenant.User, f efolder, shape *itemShape) ([]syncItem, error)
	// getItem renders the item ref designates in mailbox u (its element, e.g.
	// <t:CalendarItem>…), found false when it is none of this source's.
	getItem(c *Call, u tenant.User, ref itemRef, shape *itemShape) (xml string, found bool, err error)
}

var (
	srcMu       sync.RWMutex
	itemSources []registeredSource
)

type registeredSource struct {
	class string
	src   itemSource
}

// registerItemSource makes src serve the folders of class (IPF.Note, IPF.Appointment...).
func registerItemSource(class string, src itemSource) {
	srcMu.Lock()
	defer srcMu.Unlock()
	itemSources = append(itemSources, registeredSource{class, src})
}

func sourceFor(class string) itemSource {
	srcMu.RLock()
	defer srcMu.RUnlock()
	for _, r := range itemSources {
		if r.class == class {
			return r.src
		}
	}
	return nil
}

func allSources() []itemSource {
	srcMu.RLock()
	defer srcMu.RUnlock()
	out := make([]itemSource, len(itemSources))
	for i, r := range itemSources {
		out[i] = r.src
	}
	return out
}

func init() {
	register("GetItem", getItem)
	registerItemSource(classMail, mailSource{})
}

// getItem answers GetItem: one response message per id, ErrorItemNotFound for an item
// that is not (or no longer) in the mailbox.
func getItem(c *Call) error {
	var req struct {
		Shape   itemShape `xml:"ItemShape"`
		ItemIDs itemRefs  `xml:"ItemIds"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	c.begin()
	for _, ref := range req.ItemIDs {
		if ref.ID == "" && ref.RecurringMasterID == "" && ref.OccurrenceID == "" {
			c.fail("ErrorInvalidIdEmpty", "The ID is empty.")
			continue
		}
		if !c.HasMailbox {
			c.fail("ErrorMissingEmailAddress", "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folders.")
			continue
		}
		var out string
		var found bool
		for _, src := range allSources() {
			x, ok, err := src.getItem(c, c.Mailbox, ref, &req.Shape)
			if err != nil {
				return err
			}
			if ok {
				out, found = x, true
				break
			}
		}
		if !found {
			c.fail("ErrorItemNotFound", "The specified object was not found in the store.")
			continue
		}
		c.ok(`<m:Items>` + out + `</m:Items>`)
	}
	c.end()
	return nil
}

// mailSource serves the messages of mail folders.
type mailSource struct{}

func (mailSource) syncItems(c *Call, u tenant.User, f efolder, shape *itemShape) ([]syncItem, error) {
	var out []syncItem
	for _, m := range c.s.ten.Messages(u.ID) {
		if m.FolderID != f.ID {
			continue
		}
		read := m.IsRead
		out = append(out, syncItem{ID: m.ID, ChangeKey: m.ChangeKey, Read: &read,
			Sig: fmt.Sprintf("%s|%s|%d|%t|%s", m.Flag, m.FolderID, m.LastVerb, m.IsDraft, m.Subject),
			XML: func() string {
				x, _ := c.messageXML(u, m, shape, false)
				return x
			}})
	}
	return out, nil
}

func (mailSource) getItem(c *Call, u tenant.User, ref itemRef, shape *itemShape) (string, bool, error) {
	if ref.Kind != "ItemId" {
		return "", false, nil
	}
	m, err := c.s.ten.Message(u.ID, ref.ID)
	if errors.Is(err, model.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	x, err := c.messageXML(u, m, shape, true)
	if errors.Is(err, model.ErrNotFound) { // deleted between the lookup and the read
		return "", false, nil
	}
	return x, err == nil, err
}

// flagStatus maps the tenant's Graph flag to EWS FlagStatus.
func flagStatus(f string) string {
	switch f {
	case "flagged":
		return "Flagged"
	case "complete":
		return "Complete"
	}
	return "NotFlagged"
}

// messageXML renders a <t:Message> in shape, in types.xsd order. MimeContent (the tenant's
// exact bytes, base64) is included when the shape asks for it and withMIME.
func (c *Call) messageXML(u tenant.User, m tenant.Message, shape *itemShape, withMIME bool) (string, error) {
	base := shape.base()
	def := base == "default" || base == "allproperties"
	all := base == "allproperties"
	want := func(uri string, inDefault bool) bool { return (inDefault && def) || all || shape.has(uri) }
	var b strings.Builder
	b.WriteString(`<t:Message>`)
	if withMIME && (shape.IncludeMimeContent || shape.has("item:MimeContent")) {
		rc, _, err := c.s.ten.MIME(u.ID, m.ID)
		if err != nil {
			return "", err
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		b.WriteString(`<t:MimeContent CharacterSet="UTF-8">`)
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteString(`</t:MimeContent>`)
	}
	fmt.Fprintf(&b, `<t:ItemId Id="%s" ChangeKey="%s"/>`, esc(m.ID), esc(m.ChangeKey))
	if want("item:ParentFolderId", true) {
		fck := folderChangeKey(0)
		if f, err := c.s.ten.Folder(u.ID, m.FolderID); err == nil {
			fck = folderChangeKey(f.Seq)
		}
		fmt.Fprintf(&b, `<t:ParentFolderId Id="%s" ChangeKey="%s"/>`, esc(m.FolderID), fck)
	}
	if want("item:ItemClass", true) {
		b.WriteString(`<t:ItemClass>IPM.Note</t:ItemClass>`)
	}
	if want("item:Subject", true) {
		fmt.Fprintf(&b, `<t:Subject>%s</t:Subject>`, esc(m.Subject))
	}
	if want("item:DateTimeReceived", true) {
		fmt.Fprintf(&b, `<t:DateTimeReceived>%s</t:DateTimeReceived>`, isoTime(m.Received))
	}
	if want("item:Size", true) {
		fmt.Fprintf(&b, `<t:Size>%d</t:Size>`, m.Size)
	}
	if want("item:IsDraft", all) {
		fmt.Fprintf(&b, `<t:IsDraft>%t</t:IsDraft>`, m.IsDraft)
	}
	if want("item:DateTimeSent", true) && !m.Sent.IsZero() {
		fmt.Fprintf(&b, `<t:DateTimeSent>%s</t:DateTimeSent>`, isoTime(m.Sent))
	}
	if want("item:DateTimeCreated", true) {
		fmt.Fprintf(&b, `<t:DateTimeCreated>%s</t:DateTimeCreated>`, isoTime(m.Received))
	}
	if want("item:HasAttachments", true) {
		fmt.Fprintf(&b, `<t:HasAttachments>%t</t:HasAttachments>`, m.HasAttachments)
	}
	for _, e := range shape.Additional.Extended {
		tag, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(e.PropertyTag), "0x"), 16, 32)
		if err != nil {
			continue
		}
		switch tag {
		case 0x1081: // PidTagLastVerbExecuted
			if m.LastVerb != 0 {
				fmt.Fprintf(&b, `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/><t:Value>%d</t:Value></t:ExtendedProperty>`, m.LastVerb)
			}
		case 0x0e07: // PidTagMessageFlags: read 0x1, unsent 0x8
			v := 0
			if m.IsRead {
				v |= 1
			}
			if m.IsDraft {
				v |= 8
			}
			fmt.Fprintf(&b, `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0xe07" PropertyType="Integer"/><t:Value>%d</t:Value></t:ExtendedProperty>`, v)
		}
	}
	if want("item:LastModifiedTime", all) && !m.Modified.IsZero() {
		fmt.Fprintf(&b, `<t:LastModifiedTime>%s</t:LastModifiedTime>`, isoTime(m.Modified))
	}
	if want("item:Flag", all) {
		fmt.Fprintf(&b, `<t:Flag><t:FlagStatus>%s</t:FlagStatus></t:Flag>`, flagStatus(m.Flag))
	}
	if want("message:ToRecipients", all) && len(m.To) > 0 {
		b.WriteString(`<t:ToRecipients>`)
		for _, a := range m.To {
			writeMailbox(&b, a)
		}
		b.WriteString(`</t:ToRecipients>`)
	}
	if want("message:From", true) && m.From.Address != "" {
		b.WriteString(`<t:From>`)
		writeMailbox(&b, m.From)
		b.WriteString(`</t:From>`)
	}
	if want("message:InternetMessageId", all) && m.InternetMessageID != "" {
		fmt.Fprintf(&b, `<t:InternetMessageId>%s</t:InternetMessageId>`, esc(m.InternetMessageID))
	}
	if want("message:IsRead", true) {
		fmt.Fprintf(&b, `<t:IsRead>%t</t:IsRead>`, m.IsRead)
	}
	b.WriteString(`</t:Message>`)
	return b.String(), nil
}

func writeMailbox(b *strings.Builder, a tenant.Address) {
	fmt.Fprintf(b, `<t:Mailbox><t:Name>%s</t:Name><t:EmailAddress>%s</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>`, esc(a.Name), esc(a.Address))
}
