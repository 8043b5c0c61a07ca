package ews

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Config configures the EWS Source.
type Config struct {
	ClientConfig
	// AutodiscoverAddress finds the EWS URL by Autodiscover (autodiscover.go) when
	// ClientConfig.URL is empty, with the same credentials and TLS settings.
	AutodiscoverAddress string
	// Mailboxes are the addresses Mailboxes takes when a Selection names none (EWS has no
	// directory listing: they come from the mapping file or --mailbox).
	Mailboxes []string
	// PageSize is SyncFolderItems' MaxChangesReturned (1–512), default 256.
	PageSize int
}

// Source reads mail from EWS. It is safe for concurrent use.
type Source struct {
	cfg    Config
	c      *Client
	log    *slog.Logger
	groups groupCache // grantee address → is a group (settings.go's ResolveNames)
}

var _ extract.Source = (*Source)(nil)

// New builds a Source, running Autodiscover first when cfg has no URL. It sends nothing
// else: bad credentials surface on the first call as model.ErrFatal. A bad configuration
// returns an error wrapping model.ErrFatal.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.PageSize <= 0 || cfg.PageSize > 512 {
		cfg.PageSize = 256
	}
	if cfg.URL == "" {
		if cfg.AutodiscoverAddress == "" {
			return nil, model.Fatal(errors.New("ews: give the EWS URL (--ews-url) or an address to autodiscover it from (--autodiscover)"))
		}
		u, err := Autodiscover(ctx, cfg.AutodiscoverAddress, AutodiscoverOptions{Client: cfg.ClientConfig})
		if err != nil {
			return nil, err
		}
		cfg.URL = u
	}
	c, err := NewClient(cfg.ClientConfig)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, c: c, log: c.log}, nil
}

// NewWithClient builds a Source on an existing Client.
func NewWithClient(c *Client, cfg Config) *Source {
	if cfg.PageSize <= 0 || cfg.PageSize > 512 {
		cfg.PageSize = 256
	}
	return &Source{cfg: cfg, c: c, log: c.log}
}

// Client is the source's EWS client (for the groupware and settings sources).
func (s *Source) Client() *Client { return s.c }

// Stats returns what the source's client did so far.
func (s *Source) Stats() Stats { return s.c.Stats() }

// ---- request and response shapes ----

// PathURI is one property path of a shape: t:FieldURI, t:ExtendedFieldURI or
// t:IndexedFieldURI (exactly one set).
type PathURI struct {
	Field    string // FieldURI, e.g. "item:Subject"
	Tag      string // ExtendedFieldURI PropertyTag, e.g. "0x1081"
	Type     string // ExtendedFieldURI PropertyType, e.g. "Integer"
	Indexed  string // IndexedFieldURI FieldURI
	Index    string // IndexedFieldURI FieldIndex
	SetID    string // ExtendedFieldURI DistinguishedPropertySetId / PropertySetId
	PropName string // ExtendedFieldURI PropertyName
	PropID   string // ExtendedFieldURI PropertyId
}

// MarshalXML writes the path element.
func (p PathURI) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	attr := func(n, v string) xml.Attr { return xml.Attr{Name: xml.Name{Local: n}, Value: v} }
	var st xml.StartElement
	switch {
	case p.Field != "":
		st = xml.StartElement{Name: xml.Name{Local: "t:FieldURI"}, Attr: []xml.Attr{attr("FieldURI", p.Field)}}
	case p.Indexed != "":
		st = xml.StartElement{Name: xml.Name{Local: "t:IndexedFieldURI"}, Attr: []xml.Attr{attr("FieldURI", p.Indexed), attr("FieldIndex", p.Index)}}
	default:
		st = xml.StartElement{Name: xml.Name{Local: "t:ExtendedFieldURI"}}
		if p.SetID != "" {
			if strings.Contains(p.SetID, "-") {
				st.Attr = append(st.Attr, attr("PropertySetId", p.SetID))
			} else {
				st.Attr = append(st.Attr, attr("DistinguishedPropertySetId", p.SetID))
			}
		}
		if p.Tag != "" {
			st.Attr = append(st.Attr, attr("PropertyTag", p.Tag))
		}
		if p.PropName != "" {
			st.Attr = append(st.Attr, attr("PropertyName", p.PropName))
		}
		if p.PropID != "" {
			st.Attr = append(st.Attr, attr("PropertyId", p.PropID))
		}
		st.Attr = append(st.Attr, attr("PropertyType", p.Type))
	}
	if err := e.EncodeToken(st); err != nil {
		return err
	}
	return e.EncodeToken(st.End())
}

// MarshalXML writes the chosen folder id element without a wrapper.
func (r FolderRef) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	switch {
	case r.Folder != nil:
		return e.EncodeElement(r.Folder, xml.StartElement{Name: xml.Name{Local: "t:FolderId"}})
	case r.Distinguished != nil:
		return e.EncodeElement(r.Distinguished, xml.StartElement{Name: xml.Name{Local: "t:DistinguishedFolderId"}})
	}
	return nil
}

// Shape is t:FolderShape / t:ItemShape.
type Shape struct {
	BaseShape          string    `xml:"t:BaseShape"`
	IncludeMimeContent *bool     `xml:"t:IncludeMimeContent,omitempty"`
	BodyType           string    `xml:"t:BodyType,omitempty"`
	Additional         []PathURI `xml:"t:AdditionalProperties>x,omitempty"`
}

type getFolder struct {
	XMLName xml.Name    `xml:"m:GetFolder"`
	Shape   Shape       `xml:"m:FolderShape"`
	IDs     []FolderRef `xml:"m:FolderIds>x"`
}

type syncFolderHierarchy struct {
	XMLName   xml.Name    `xml:"m:SyncFolderHierarchy"`
	Shape     Shape       `xml:"m:FolderShape"`
	SyncRoot  []FolderRef `xml:"m:SyncFolderId>x"`
	SyncState string      `xml:"m:SyncState,omitempty"`
}

type syncFolderItems struct {
	XMLName    xml.Name    `xml:"m:SyncFolderItems"`
	Shape      Shape       `xml:"m:ItemShape"`
	Folder     []FolderRef `xml:"m:SyncFolderId>x"`
	SyncState  string      `xml:"m:SyncState,omitempty"`
	MaxChanges int         `xml:"m:MaxChangesReturned"`
	SyncScope  string      `xml:"m:SyncScope,omitempty"`
}

type getItem struct {
	XMLName xml.Name `xml:"m:GetItem"`
	Shape   Shape    `xml:"m:ItemShape"`
	IDs     []ItemID `xml:"m:ItemIds>t:ItemId"`
}

// mailFolderXML is any folder element (Folder, CalendarFolder, ContactsFolder, TasksFolder,
// SearchFolder).
type mailFolderXML struct {
	XMLName     xml.Name
	FolderID    ItemID        `xml:"FolderId"`
	Parent      ItemID        `xml:"ParentFolderId"`
	FolderClass string        `xml:"FolderClass"`
	DisplayName string        `xml:"DisplayName"`
	TotalCount  int64         `xml:"TotalCount"`
	Extended    []extendedXML `xml:"ExtendedProperty"`
}

type extendedXML struct {
	URI struct {
		PropertyTag string `xml:"PropertyTag,attr"`
	} `xml:"ExtendedFieldURI"`
	Value string `xml:"Value"`
}

// ext returns the value of the extended property with tag (e.g. "0x1081"), compared as a
// number (Exchange answers "0x1081" or "4225").
func ext(props []extendedXML, tag uint64) (string, bool) {
	for _, p := range props {
		if v, err := strconv.ParseUint(strings.TrimSpace(p.URI.PropertyTag), 0, 32); err == nil && v == tag {
			return strings.TrimSpace(p.Value), true
		}
	}
	return "", false
}

type getFolderResponse struct {
	Messages []struct {
		ResponseMessage
		Folders struct {
			List []mailFolderXML `xml:",any"`
		} `xml:"Folders"`
	} `xml:"ResponseMessages>GetFolderResponseMessage"`
}

type hierarchyChange struct {
	XMLName  xml.Name
	Folder   *mailFolderXML `xml:",any"`
	FolderID *ItemID        `xml:"FolderId"`
}

type syncFolderHierarchyResponse struct {
	Messages []struct {
		ResponseMessage
		SyncState string `xml:"SyncState"`
		Last      bool   `xml:"IncludesLastFolderInRange"`
		Changes   struct {
			List []hierarchyChange `xml:",any"`
		} `xml:"Changes"`
	} `xml:"ResponseMessages>SyncFolderHierarchyResponseMessage"`
}

// mailItemXML is any item element with the properties the mail source asks for.
type mailItemXML struct {
	XMLName           xml.Name
	ItemID            ItemID        `xml:"ItemId"`
	Subject           string        `xml:"Subject"`
	DateTimeReceived  string        `xml:"DateTimeReceived"`
	Size              int64         `xml:"Size"`
	IsRead            *bool         `xml:"IsRead"`
	IsDraft           *bool         `xml:"IsDraft"`
	FlagStatus        string        `xml:"Flag>FlagStatus"`
	InternetMessageID string        `xml:"InternetMessageId"`
	Extended          []extendedXML `xml:"ExtendedProperty"`
}

type itemChange struct {
	XMLName xml.Name
	Item    *mailItemXML `xml:",any"`
	ItemID  *ItemID      `xml:"ItemId"`
	IsRead  *bool        `xml:"IsRead"`
}

type syncFolderItemsResponse struct {
	Messages []struct {
		ResponseMessage
		SyncState string `xml:"SyncState"`
		Last      bool   `xml:"IncludesLastItemInRange"`
		Changes   struct {
			List []itemChange `xml:",any"`
		} `xml:"Changes"`
	} `xml:"ResponseMessages>SyncFolderItemsResponseMessage"`
}

type getItemResponse struct {
	Messages []struct {
		ResponseMessage
		Items struct {
			List []mailItemXML `xml:",any"`
		} `xml:"Items"`
	} `xml:"ResponseMessages>GetItemResponseMessage"`
}

// Properties the mail source reads.
const (
	tagLastVerb = 0x1081 // PidTagLastVerbExecuted: 102 reply, 103 reply all, 104 forward
	tagHidden   = 0x10F4 // PidTagAttributeHidden
)

// messageProps are the properties of a message beside its id (SyncFolderItems' and
// GetItem's AdditionalProperties).
var messageProps = []PathURI{
	{Field: "item:Subject"}, {Field: "item:DateTimeReceived"}, {Field: "item:Size"},
	{Field: "message:IsRead"}, {Field: "item:IsDraft"}, {Field: "item:Flag"},
	{Field: "message:InternetMessageId"},
	{Tag: "0x1081", Type: "Integer"},
}

var folderProps = []PathURI{
	{Field: "folder:DisplayName"}, {Field: "folder:ParentFolderId"}, {Field: "folder:FolderClass"},
	{Field: "folder:TotalCount"}, {Tag: "0x10F4", Type: "Boolean"},
}

// wellKnownNames are resolved with one GetFolder (msgfolderroot first).
var wellKnownNames = []string{
	model.WellKnownInbox, model.WellKnownSentItems, model.WellKnownDrafts, model.WellKnownDeletedItems,
	model.WellKnownJunkEmail, model.WellKnownArchive, model.WellKnownOutbox,
}

// ---- Mailboxes ----

// Mailboxes takes the addresses of sel (or Config.Mailboxes when sel names none) and
// checks that each is a mailbox the account may read, with GetFolder msgfolderroot acting
// for it. EWS lists no directory: with no address at all, Mailboxes returns an error
// wrapping model.ErrFatal. The Mailbox ID is the address in lower case (EWS has no
// directory id); Kind is "" (EWS does not say). A missing mailbox
// (ErrorNonExistentMailbox) returns an error wrapping model.ErrNotFound; refused
// credentials or impersonation model.ErrFatal; throttling after retries
// model.ErrRetryable.
func (s *Source) Mailboxes(ctx context.Context, sel extract.Selection) ([]model.Mailbox, error) {
	addrs := sel.Addresses
	if len(addrs) == 0 {
		addrs = s.cfg.Mailboxes
	}
	var out []model.Mailbox
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, model.Mailbox{ID: a, Address: a})
	}
	if len(out) == 0 {
		return nil, model.Fatal(errors.New("ews: EWS cannot list mailboxes: give --mapping or --mailbox"))
	}
	errs := make([]error, len(out))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, errs[i] = s.root(ctx, out[i].Address)
		}()
	}
	wg.Wait()
	var missing []string
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, model.ErrNotFound):
			missing = append(missing, out[i].Address)
		default:
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, model.Permanent(fmt.Errorf("ews: no such mailbox: %s: %w", strings.Join(missing, ", "), model.ErrNotFound))
	}
	return out, nil
}

// root returns the id of msgfolderroot of mailbox.
func (s *Source) root(ctx context.Context, mailbox string) (string, error) {
	var resp getFolderResponse
	req := getFolder{Shape: Shape{BaseShape: "IdOnly"}, IDs: []FolderRef{{Distinguished: s.c.Distinguished("msgfolderroot", mailbox)}}}
	if err := s.c.Call(ctx, Request{Mailbox: mailbox, Body: req}, &resp); err != nil {
		return "", err
	}
	if len(resp.Messages) == 0 || len(resp.Messages[0].Folders.List) == 0 || resp.Messages[0].Folders.List[0].FolderID.ID == "" {
		return "", model.Retryable(fmt.Errorf("ews: GetFolder msgfolderroot for %s: an answer without the folder", mailbox))
	}
	return resp.Messages[0].Folders.List[0].FolderID.ID, nil
}

// ---- Folders ----

// Folders lists the mail folders of mbx (SyncFolderHierarchy from msgfolderroot; folder
// class IPF.Note, a subclass of it, or none; hidden folders left out), parents before
// children (siblings in the server's order), Path made of display names, WellKnown
// resolved by one GetFolder on the distinguished ids. A missing mailbox returns an error
// wrapping model.ErrNotFound; refused credentials model.ErrFatal; throttling after
// retries model.ErrRetryable.
func (s *Source) Folders(ctx context.Context, mbx model.Mailbox) ([]model.Folder, error) {
	root, wk, err := s.wellKnown(ctx, mbx.Address)
	if err != nil {
		return nil, err
	}
	all := map[string]mailFolderXML{}
	var order []string
	state := ""
	for page := 0; ; page++ {
		if page > 10000 {
			return nil, model.Retryable(fmt.Errorf("ews: SyncFolderHierarchy for %s does not end", mbx.Address))
		}
		var resp syncFolderHierarchyResponse
		req := syncFolderHierarchy{Shape: Shape{BaseShape: "IdOnly", Additional: folderProps},
			SyncRoot: []FolderRef{{Distinguished: s.c.Distinguished("msgfolderroot", mbx.Address)}}, SyncState: state}
		if err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			return nil, err
		}
		if len(resp.Messages) == 0 {
			return nil, model.Retryable(fmt.Errorf("ews: SyncFolderHierarchy for %s: an answer without a response message", mbx.Address))
		}
		m := resp.Messages[0]
		if err := m.Err("SyncFolderHierarchy", mbx.Address); err != nil {
			return nil, err
		}
		for _, ch := range m.Changes.List {
			switch ch.XMLName.Local {
			case "Create", "Update":
				if ch.Folder == nil || ch.Folder.FolderID.ID == "" {
					continue
				}
				id := ch.Folder.FolderID.ID
				if _, ok := all[id]; !ok {
					order = append(order, id)
				}
				all[id] = *ch.Folder
			case "Delete":
				if ch.FolderID != nil {
					delete(all, ch.FolderID.ID)
				}
			}
		}
		if m.Last || m.SyncState == "" || m.SyncState == state {
			break
		}
		state = m.SyncState
	}
	return buildTree(root, wk, all, order), nil
}

// isMail reports whether a folder holds mail.
func isMail(f mailFolderXML) bool {
	if f.XMLName.Local != "" && f.XMLName.Local != "Folder" {
		return false
	}
	c := f.FolderClass
	if c != "" && c != "IPF.Note" && !strings.HasPrefix(c, "IPF.Note.") {
		return false
	}
	if v, ok := ext(f.Extended, tagHidden); ok && (v == "true" || v == "1") {
		return false
	}
	return true
}

// buildTree orders the mail folders parents first (breadth first from root) with their
// paths; a folder under a folder that is not a mail folder is left out with it.
func buildTree(root string, wk map[string]string, all map[string]mailFolderXML, order []string) []model.Folder {
	children := map[string][]string{}
	for _, id := range order {
		f, ok := all[id]
		if !ok || !isMail(f) {
			continue
		}
		children[f.Parent.ID] = append(children[f.Parent.ID], id)
	}
	var out []model.Folder
	paths := map[string][]string{root: nil}
	queue := []string{root}
	seen := map[string]bool{root: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, id := range children[p] {
			if seen[id] {
				continue
			}
			seen[id] = true
			f := all[id]
			path := append(append([]string(nil), paths[p]...), f.DisplayName)
			paths[id] = path
			parent := p
			if parent == root {
				parent = ""
			}
			out = append(out, model.Folder{ID: id, ParentID: parent, Path: path, WellKnown: wk[id], TotalItems: f.TotalCount})
			queue = append(queue, id)
		}
	}
	return out
}

// wellKnown returns the id of msgfolderroot and the well-known names by folder id.
func (s *Source) wellKnown(ctx context.Context, mailbox string) (string, map[string]string, error) {
	req := getFolder{Shape: Shape{BaseShape: "IdOnly"}}
	names := append([]string{"msgfolderroot"}, wellKnownNames...)
	for _, n := range names {
		req.IDs = append(req.IDs, FolderRef{Distinguished: s.c.Distinguished(n, mailbox)})
	}
	var resp getFolderResponse
	if err := s.c.Call(ctx, Request{Mailbox: mailbox, Body: req}, &resp); err != nil {
		return "", nil, err
	}
	if len(resp.Messages) != len(names) {
		return "", nil, model.Retryable(fmt.Errorf("ews: GetFolder of the well-known folders of %s: %d answers for %d folders", mailbox, len(resp.Messages), len(names)))
	}
	if err := resp.Messages[0].Err("GetFolder msgfolderroot", mailbox); err != nil {
		return "", nil, err
	}
	if len(resp.Messages[0].Folders.List) == 0 {
		return "", nil, model.Retryable(fmt.Errorf("ews: GetFolder msgfolderroot for %s: no folder in the answer", mailbox))
	}
	root := resp.Messages[0].Folders.List[0].FolderID.ID
	wk := map[string]string{}
	for i, m := range resp.Messages[1:] {
		if m.Failed() || len(m.Folders.List) == 0 {
			continue // the mailbox has no such folder (ErrorFolderNotFound)
		}
		if id := m.Folders.List[0].FolderID.ID; id != "" {
			wk[id] = names[i+1]
		}
	}
	return root, wk, nil
}

// ---- Changes ----

// Changes streams the changes of one folder with SyncFolderItems from cursor (the
// SyncState; "" starts a full pass: every message arrives as an Upsert). Each page yields
// its Upserts (Create, Update, and ReadFlagChange — whose full flags are read back with
// GetItem) and Deletes, then a Checkpoint with the page's SyncState, Final on the page
// that includes the last item. An expired or unusable sync state
// (ErrorInvalidSyncStateData) yields an error wrapping model.ErrCursorExpired first; a
// missing folder or mailbox model.ErrNotFound; refused credentials model.ErrFatal;
// throttling after retries model.ErrRetryable.
func (s *Source) Changes(ctx context.Context, mbx model.Mailbox, folder model.Folder, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) {
		state := cursor
		for {
			var resp syncFolderItemsResponse
			req := syncFolderItems{Shape: Shape{BaseShape: "IdOnly", Additional: messageProps},
				Folder: []FolderRef{{Folder: &ItemID{ID: folder.ID}}}, SyncState: state, MaxChanges: s.cfg.PageSize, SyncScope: "NormalItems"}
			err := s.c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp)
			if err == nil && len(resp.Messages) == 0 {
				err = model.Retryable(fmt.Errorf("ews: SyncFolderItems for %s: an answer without a response message", mbx.Address))
			}
			if err == nil {
				err = resp.Messages[0].Err("SyncFolderItems", mbx.Address)
			}
			if err != nil {
				yield(extract.Change{}, err)
				return
			}
			m := resp.Messages[0]
			if m.SyncState == "" {
				yield(extract.Change{}, model.Retryable(fmt.Errorf("ews: SyncFolderItems for %s: an answer without SyncState", mbx.Address)))
				return
			}
			// ReadFlagChange carries IsRead only: read the other flags back.
			var flagIDs []ItemID
			for _, ch := range m.Changes.List {
				if ch.XMLName.Local == "ReadFlagChange" && ch.ItemID != nil {
					flagIDs = append(flagIDs, ItemID{ID: ch.ItemID.ID})
				}
			}
			current, err := s.getItems(ctx, mbx.Address, flagIDs)
			if err != nil {
				yield(extract.Change{}, err)
				return
			}
			for _, ch := range m.Changes.List {
				var c extract.Change
				switch ch.XMLName.Local {
				case "Create", "Update":
					if ch.Item == nil || ch.Item.ItemID.ID == "" {
						continue
					}
					c = extract.Change{Kind: extract.Upsert, Message: toMessage(*ch.Item, folder.ID)}
				case "Delete":
					if ch.ItemID == nil {
						continue
					}
					c = extract.Change{Kind: extract.Delete, Message: model.Message{ID: ch.ItemID.ID, FolderID: folder.ID}}
				case "ReadFlagChange":
					if ch.ItemID == nil {
						continue
					}
					it, ok := current[ch.ItemID.ID]
					if !ok {
						continue // gone since: its Delete follows
					}
					msg := toMessage(it, folder.ID)
					if ch.IsRead != nil && it.IsRead == nil {
						msg.Flags.Seen = *ch.IsRead
					}
					c = extract.Change{Kind: extract.Upsert, Message: msg}
				default:
					continue
				}
				if !yield(c, nil) {
					return
				}
			}
			if !yield(extract.Change{Kind: extract.Checkpoint, Cursor: m.SyncState, Final: m.Last}, nil) || m.Last {
				return
			}
			state = m.SyncState
		}
	}
}

// getItems reads the message properties of ids (batches of 100); items that no longer
// exist are left out.
func (s *Source) getItems(ctx context.Context, mailbox string, ids []ItemID) (map[string]mailItemXML, error) {
	out := map[string]mailItemXML{}
	for len(ids) > 0 {
		n := min(len(ids), 100)
		batch := ids[:n]
		ids = ids[n:]
		var resp getItemResponse
		err := s.c.Call(ctx, Request{Mailbox: mailbox, Body: getItem{Shape: Shape{BaseShape: "IdOnly", Additional: messageProps}, IDs: batch}}, &resp)
		if errors.Is(err, model.ErrNotFound) {
			continue // every one of them is gone
		}
		if err != nil {
			return nil, err
		}
		for _, m := range resp.Messages {
			if err := m.Err("GetItem", mailbox); err != nil {
				if errors.Is(err, model.ErrNotFound) {
					continue
				}
				return nil, err
			}
			for _, it := range m.Items.List {
				out[it.ItemID.ID] = it
			}
		}
	}
	return out, nil
}

func toMessage(it mailItemXML, folderID string) model.Message {
	m := model.Message{ID: it.ItemID.ID, ChangeKey: it.ItemID.ChangeKey, FolderID: folderID,
		Size: max(it.Size, 0), MessageID: strings.TrimSpace(it.InternetMessageID), Subject: it.Subject}
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(it.DateTimeReceived)); err == nil {
		m.Received = t.UTC()
	}
	if it.IsRead != nil {
		m.Flags.Seen = *it.IsRead
	}
	if it.IsDraft != nil {
		m.Flags.Draft = *it.IsDraft
	}
	m.Flags.Flagged = strings.TrimSpace(it.FlagStatus) == "Flagged"
	if v, ok := ext(it.Extended, tagLastVerb); ok {
		switch v {
		case "102", "103", "104":
			m.Flags.Answered = true
		}
	}
	return m
}

// ---- Open ----

// Open streams the RFC 5322 source of msg: GetItem with IncludeMimeContent, the base64
// MimeContent decoded as it arrives (never held whole, neither encoded nor decoded). The
// mailbox's concurrency slot stays taken until the caller closes the reader. A missing
// message returns an error wrapping model.ErrNotFound; refused credentials
// model.ErrFatal; throttling after retries model.ErrRetryable. An answer cut short is a
// read error wrapping model.ErrRetryable.
func (s *Source) Open(ctx context.Context, mbx model.Mailbox, msg model.Message) (io.ReadCloser, error) {
	t := true
	req := Request{Mailbox: mbx.Address, Body: getItem{Shape: Shape{BaseShape: "IdOnly", IncludeMimeContent: &t}, IDs: []ItemID{{ID: msg.ID}}}}
	var lastErr error
	for attempt := 1; attempt <= s.c.MaxAttempts(); attempt++ {
		body, err := s.c.Stream(ctx, req)
		if err != nil {
			return nil, err
		}
		r, e := NewMIMEReader(body)
		if e == nil {
			return r, nil
		}
		body.Close()
		var ee *Error
		if !errors.As(e, &ee) {
			return nil, model.Retryable(fmt.Errorf("ews: GetItem %s for %s: %w", msg.ID, mbx.Address, e))
		}
		ee.Op, ee.Mailbox = "GetItem "+msg.ID, mbx.Address
		lastErr = ee.classify()
		if !ee.retryable() {
			return nil, lastErr
		}
		if ee.Code == "ErrorServerBusy" {
			s.c.Busy(mbx.Address, ee.BackOff)
		} else if err := sleepCtx(ctx, backoff(attempt, s.c.cfg.BaseBackoff, s.c.cfg.MaxBackoff)); err != nil {
			return nil, err
		}
		if ee.Code == "ErrorExceededConnectionCount" {
			s.c.th.tooManyConnections(mbx.Address)
		}
	}
	return nil, lastErr
}
