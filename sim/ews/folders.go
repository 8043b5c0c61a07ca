package ews

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// Folder classes.
const (
	classMail     = "IPF.Note"
	classCalendar = "IPF.Appointment"
	classContacts = "IPF.Contact"
	classTasks    = "IPF.Task"
)

// efolder is one folder of a mailbox as EWS shows it. Mail folders are the tenant's; the
// tenant's calendars, contact folders and task lists become IPF.Appointment, IPF.Contact and
// IPF.Task folders (the default ones distinguished as calendar, contacts and tasks, children
// of msgfolderroot; the others children of the default one unless the tenant says
// otherwise). Calendars other users share to the mailbox and the flaggedEmails To Do list
// are not folders of the mailbox.
type efolder struct {
	ID, ParentID, Name string
	Class              string // "" for root and msgfolderroot
	Distinguished      string // EWS DistinguishedFolderId name, "" for none
	ChangeKey          string
	Total, Unread      int
}

// folderChangeKey makes a folder change key from a change-log position.
func folderChangeKey(seq uint64) string {
	var b [12]byte
	copy(b[:4], []byte{0x01, 0, 0, 0})
	binary.BigEndian.PutUint64(b[4:], seq)
	return "AQAAABYAAAA" + base64.StdEncoding.EncodeToString(b[:])
}

// rootFolderID is the id of the mailbox's root folder (the parent of msgfolderroot).
func rootFolderID(msgRoot string) string {
	h := sha256.Sum256([]byte("root/" + msgRoot))
	return "AAMkARoot" + base64.URLEncoding.EncodeToString(h[:24])
}

// folderTree returns the folders of u's mailbox, parents before children, the root and
// msgfolderroot first.
func (s *Server) folderTree(u tenant.User) []efolder {
	t := s.ten
	msgRoot := t.RootFolderID(u.ID)
	if msgRoot == "" {
		return nil
	}
	root := rootFolderID(msgRoot)
	out := []efolder{
		{ID: root, Name: "", Distinguished: "root", ChangeKey: folderChangeKey(0)},
		{ID: msgRoot, ParentID: root, Name: "Top of Information Store", Distinguished: "msgfolderroot", ChangeKey: folderChangeKey(0)},
	}
	for _, f := range t.Folders(u.ID) {
		total, unread, _ := t.FolderCounts(u.ID, f.ID)
		out = append(out, efolder{ID: f.ID, ParentID: f.ParentID, Name: f.DisplayName, Class: classMail,
			Distinguished: f.WellKnown, ChangeKey: folderChangeKey(f.Seq), Total: total, Unread: unread})
	}
	var defCal string
	var cals []efolder
	for _, c := range t.Calendars(u.ID) {
		if c.Owner.Address != "" && !strings.EqualFold(c.Owner.Address, u.Mail) && !c.IsDefault {
			continue // shared to this mailbox by another user
		}
		f := efolder{ID: c.ID, Name: c.Name, Class: classCalendar, ChangeKey: c.ChangeKey, Total: len(t.Events(u.ID, c.ID))}
		if f.ChangeKey == "" {
			f.ChangeKey = folderChangeKey(c.Seq)
		}
		if c.IsDefault {
			f.ParentID, f.Distinguished, defCal = msgRoot, "calendar", c.ID
			cals = append([]efolder{f}, cals...)
			continue
		}
		cals = append(cals, f)
	}
	for i := range cals {
		if cals[i].ParentID == "" {
			cals[i].ParentID = cmpOr(defCal, msgRoot)
		}
	}
	out = append(out, cals...)
	var cfs []efolder
	var defCF string
	for _, cf := range t.ContactFolders(u.ID) {
		f := efolder{ID: cf.ID, ParentID: cf.ParentID, Name: cf.DisplayName, Class: classContacts,
			ChangeKey: folderChangeKey(cf.Seq), Total: len(t.Contacts(u.ID, cf.ID))}
		if cf.IsDefault {
			f.Distinguished, defCF = "contacts", cf.ID
			if f.ParentID == "" {
				f.ParentID = msgRoot
			}
			cfs = append([]efolder{f}, cfs...)
			continue
		}
		cfs = append(cfs, f)
	}
	for i := range cfs {
		if cfs[i].ParentID == "" {
			cfs[i].ParentID = cmpOr(defCF, msgRoot)
		}
	}
	out = append(out, parentsFirst(cfs)...)
	var tls []efolder
	var defTL string
	for _, l := range t.TaskLists(u.ID) {
		if l.WellKnown == "flaggedEmails" {
			continue
		}
		f := efolder{ID: l.ID, Name: l.DisplayName, Class: classTasks, ChangeKey: l.ChangeKey}
		if f.ChangeKey == "" {
			f.ChangeKey = folderChangeKey(l.Seq)
		}
		for _, tk := range t.Tasks(u.ID, l.ID) {
			f.Total++
			_ = tk
		}
		if l.WellKnown == "defaultList" {
			f.ParentID, f.Distinguished, f.Name, defTL = msgRoot, "tasks", "Tasks", l.ID
			tls = append([]efolder{f}, tls...)
			continue
		}
		tls = append(tls, f)
	}
	for i := range tls {
		if tls[i].ParentID == "" {
			tls[i].ParentID = cmpOr(defTL, msgRoot)
		}
	}
	return append(out, tls...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parentsFirst orders fs so that a folder's parent (when in fs) comes before it.
func parentsFirst(fs []efolder) []efolder {
	in := map[string]bool{}
	for _, f := range fs {
		in[f.ID] = true
	}
	done := map[string]bool{}
	var out []efolder
	for len(out) < len(fs) {
		n := len(out)
		for _, f := range fs {
			if !done[f.ID] && (!in[f.ParentID] || done[f.ParentID]) {
				done[f.ID] = true
				out = append(out, f)
			}
		}
		if len(out) == n { // a cycle: keep the rest as they are
			for _, f := range fs {
				if !done[f.ID] {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// folderRef is one FolderId or DistinguishedFolderId of a request.
type folderRef struct {
	ID, ChangeKey string // FolderId
	Distinguished string // DistinguishedFolderId@Id
	Mailbox       string // DistinguishedFolderId/Mailbox/EmailAddress
}

// folderRefs decodes a list of FolderId / DistinguishedFolderId elements in order.
type folderRefs []folderRef

func (fr *folderRefs) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var r struct {
				ID        string `xml:"Id,attr"`
				ChangeKey string `xml:"ChangeKey,attr"`
				Mailbox   struct {
					Email string `xml:"EmailAddress"`
				} `xml:"Mailbox"`
			}
			if err := d.DecodeElement(&r, &t); err != nil {
				return err
			}
			switch t.Name.Local {
			case "FolderId":
				*fr = append(*fr, folderRef{ID: r.ID, ChangeKey: r.ChangeKey})
			case "DistinguishedFolderId":
				*fr = append(*fr, folderRef{Distinguished: r.ID, Mailbox: r.Mailbox.Email})
			}
		case xml.EndElement:
			return nil
		}
	}
}

// mailboxOf returns the mailbox a folder reference addresses: the one its Mailbox element
// names, else the mailbox acted for. Code is the EWS error when there is none or the caller
// may not open it.
func (c *Call) mailboxOf(r folderRef) (u tenant.User, code, text string) {
	if r.Mailbox != "" {
		u, ok := c.s.userByAddress(r.Mailbox)
		if !ok {
			return u, "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
		}
		if c.HasMailbox && u.ID == c.Mailbox.ID {
			return u, "", ""
		}
		return u, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
	}
	if !c.HasMailbox {
		return u, "ErrorMissingEmailAddress", "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folders."
	}
	return c.Mailbox, "", ""
}

// resolveFolder finds the folder r designates, in the mailbox of r (see mailboxOf). On
// failure it returns an EWS error code (ErrorFolderNotFound, ErrorInvalidIdMalformed,
// ErrorAccessDenied...) and its text.
func (c *Call) resolveFolder(r folderRef) (f efolder, u tenant.User, code, text string) {
	if r.Distinguished == "" && r.ID == "" {
		return f, u, "ErrorInvalidIdEmpty", "The ID is empty."
	}
	u, code, text = c.mailboxOf(r)
	if code != "" {
		return f, u, code, text
	}
	tree := c.s.folderTree(u)
	for _, x := range tree {
		if (r.Distinguished != "" && strings.EqualFold(x.Distinguished, r.Distinguished)) || (r.ID != "" && x.ID == r.ID) {
			return x, u, "", ""
		}
	}
	if r.Distinguished != "" && !slices.Contains(distinguishedNames, strings.ToLower(r.Distinguished)) {
		return f, u, "ErrorSchemaValidation", "The request failed schema validation: '" + r.Distinguished + "' is not a valid DistinguishedFolderIdNameType."
	}
	return f, u, "ErrorFolderNotFound", "The specified folder could not be found in the store."
}

// distinguishedNames are DistinguishedFolderIdNameType values (MS-OXWSCDATA 2.2.5.10),
// those the emulator may lack included.
var distinguishedNames = []string{"calendar", "contacts", "deleteditems", "drafts", "inbox", "journal", "notes",
	"outbox", "sentitems", "tasks", "msgfolderroot", "publicfoldersroot", "root", "junkemail", "searchfolders",
	"voicemail", "recoverableitemsroot", "recoverableitemsdeletions", "recoverableitemsversions",
	"recoverableitemspurges", "archiveroot", "archivemsgfolderroot", "archivedeleteditems", "archiveinbox",
	"archiverecoverableitemsroot", "archiverecoverableitemsdeletions", "archiverecoverableitemsversions",
	"archiverecoverableitemspurges", "syncissues", "conflicts", "localfailures", "serverfailures",
	"recipientcache", "quickcontacts", "conversationhistory", "adminauditlogs", "todosearch", "mycontacts",
	"directory", "imcontactlist", "peopleconnect", "favorites", "archive"}

// folderShape is a FolderShape.
type folderShape struct {
	BaseShape  string `xml:"BaseShape"`
	Additional struct {
		FieldURI []struct {
			URI string `xml:"FieldURI,attr"`
		} `xml:"FieldURI"`
		Extended []extendedFieldURI `xml:"ExtendedFieldURI"` // inventory.go
	} `xml:"AdditionalProperties"`
}

func (fs *folderShape) has(uri string) bool {
	for _, f := range fs.Additional.FieldURI {
		if strings.EqualFold(f.URI, uri) {
			return true
		}
	}
	return false
}

// folderPermissionSet, when set (by the permissions operations' file), renders the
// PermissionSet (or CalendarPermissionSet for calendars) of folder f of mailbox u, asked for
// with folder:PermissionSet.
var folderPermissionSet func(c *Call, u tenant.User, f efolder) string

// folderXML renders f in the shape asked for (IdOnly: FolderId and the additional
// properties; Default and AllProperties: the usual ones), in types.xsd order.
func (c *Call) folderXML(u tenant.User, f efolder, shape *folderShape, tree []efolder) string {
	base := strings.ToLower(shape.BaseShape)
	all := base == "default" || base == "allproperties"
	want := func(uri string) bool { return all || shape.has(uri) }
	elem := "t:Folder"
	switch f.Class {
	case classCalendar:
		elem = "t:CalendarFolder"
	case classContacts:
		elem = "t:ContactsFolder"
	case classTasks:
		elem = "t:TasksFolder"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<%s><t:FolderId Id="%s" ChangeKey="%s"/>`, elem, esc(f.ID), esc(f.ChangeKey))
	if f.ParentID != "" && (base == "allproperties" || shape.has("folder:ParentFolderId")) {
		pck := folderChangeKey(0)
		for _, p := range tree {
			if p.ID == f.ParentID {
				pck = p.ChangeKey
			}
		}
		fmt.Fprintf(&b, `<t:ParentFolderId Id="%s" ChangeKey="%s"/>`, esc(f.ParentID), esc(pck))
	}
	if f.Class != "" && (base == "allproperties" || shape.has("folder:FolderClass")) {
		fmt.Fprintf(&b, `<t:FolderClass>%s</t:FolderClass>`, f.Class)
	}
	if want("folder:DisplayName") {
		fmt.Fprintf(&b, `<t:DisplayName>%s</t:DisplayName>`, esc(f.Name))
	}
	if want("folder:TotalCount") {
		fmt.Fprintf(&b, `<t:TotalCount>%d</t:TotalCount>`, f.Total)
	}
	if want("folder:ChildFolderCount") {
		n := 0
		for _, x := range tree {
			if x.ParentID == f.ID {
				n++
			}
		}
		fmt.Fprintf(&b, `<t:ChildFolderCount>%d</t:ChildFolderCount>`, n)
	}
	b.WriteString(c.folderExtendedXML(u, f, shape))
	if f.Distinguished != "" && (base == "allproperties" || shape.has("folder:DistinguishedFolderId")) {
		fmt.Fprintf(&b, `<t:DistinguishedFolderId>%s</t:DistinguishedFolderId>`, esc(f.Distinguished))
	}
	if shape.has("folder:PermissionSet") && folderPermissionSet != nil {
		b.WriteString(folderPermissionSet(c, u, f))
	}
	if (f.Class == classMail || f.Class == classTasks || f.Class == "") && want("folder:UnreadCount") {
		fmt.Fprintf(&b, `<t:UnreadCount>%d</t:UnreadCount>`, f.Unread)
	}
	fmt.Fprintf(&b, `</%s>`, elem)
	return b.String()
}

func init() {
	register("GetFolder", getFolder)
	register("FindFolder", findFolder)
	register("SyncFolderHierarchy", syncFolderHierarchy)
}

// getFolder answers GetFolder: one response message per FolderId / DistinguishedFolderId.
func getFolder(c *Call) error {
	var req struct {
		Shape     folderShape `xml:"FolderShape"`
		FolderIDs folderRefs  `xml:"FolderIds"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	c.begin()
	for _, r := range req.FolderIDs {
		f, u, code, text := c.resolveFolder(r)
		if code != "" {
			c.fail(code, text)
			continue
		}
		c.ok(`<m:Folders>` + c.folderXML(u, f, &req.Shape, c.s.folderTree(u)) + `</m:Folders>`)
	}
	c.end()
	return nil
}

// findFolder answers FindFolder with Shallow or Deep traversal and an optional
// IndexedPageFolderView.
func findFolder(c *Call) error {
	var req struct {
		Traversal string      `xml:"Traversal,attr"`
		Shape     folderShape `xml:"FolderShape"`
		Paging    *struct {
			Max    string `xml:"MaxEntriesReturned,attr"`
			Offset string `xml:"Offset,attr"`
			Base   string `xml:"BasePoint,attr"`
		} `xml:"IndexedPageFolderView"`
		Parents folderRefs `xml:"ParentFolderIds"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	c.begin()
	for _, r := range req.Parents {
		p, u, code, text := c.resolveFolder(r)
		if code != "" {
			c.fail(code, text)
			continue
		}
		tree := c.s.folderTree(u)
		var found []efolder
		deep := strings.EqualFold(req.Traversal, "Deep")
		under := map[string]bool{p.ID: true}
		for _, f := range tree { // parents come before children
			if under[f.ParentID] {
				found = append(found, f)
				if deep {
					under[f.ID] = true
				}
			}
		}
		total := len(found)
		offset, max := 0, total
		if req.Paging != nil {
			offset, _ = strconv.Atoi(req.Paging.Offset)
			if m, err := strconv.Atoi(req.Paging.Max); err == nil && m > 0 {
				max = m
			}
			offset = min(max0(offset), total)
			if strings.EqualFold(req.Paging.Base, "End") {
				offset = max0(total - offset - max)
			}
		}
		end := min(total, offset+max)
		var b strings.Builder
		fmt.Fprintf(&b, `<m:RootFolder IndexedPagingOffset="%d" TotalItemsInView="%d" IncludesLastItemInRange="%t"><t:Folders>`, end, total, end >= total)
		for _, f := range found[offset:end] {
			b.WriteString(c.folderXML(u, f, &req.Shape, tree))
		}
		b.WriteString(`</t:Folders></m:RootFolder>`)
		c.ok(b.String())
	}
	c.end()
	return nil
}

func max0(n int) int { return max(n, 0) }
