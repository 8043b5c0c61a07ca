package ews

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func TestFolders(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)

	n := c.mustOK(`<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape></m:SyncFolderHierarchy>`)
	if n.first("IncludesLastFolderInRange").Text != "true" {
		t.Errorf("IncludesLastFolderInRange: %s", n.dump())
	}
	type seen struct{ class, parent, name, total, elem string }
	got := map[string]seen{}
	for _, cr := range n.first("Changes").Kids {
		if cr.Name != "Create" {
			t.Errorf("first sync has a %s", cr.Name)
			continue
		}
		f := cr.Kids[0]
		got[f.kid("FolderId").Attr["Id"]] = seen{f.kid("FolderClass").Text, f.kid("ParentFolderId").Attr["Id"], f.kid("DisplayName").Text, f.kid("TotalCount").Text, f.Name}
	}
	root := ten.RootFolderID(u.ID)
	if _, ok := got[root]; ok {
		t.Errorf("msgfolderroot itself is in the hierarchy")
	}
	for _, f := range ten.Folders(u.ID) {
		g, ok := got[f.ID]
		total, _, _ := ten.FolderCounts(u.ID, f.ID)
		if !ok || g.class != "IPF.Note" || g.parent != f.ParentID || g.name != f.DisplayName || g.total != strconv.Itoa(total) || g.elem != "Folder" {
			t.Errorf("folder %q: got %+v (present %t), want parent %q total %d", f.DisplayName, g, ok, f.ParentID, total)
		}
	}
	check := func(id, class, elem string, total int) {
		t.Helper()
		g, ok := got[id]
		if !ok || g.class != class || g.elem != elem || g.total != strconv.Itoa(total) || g.parent == "" {
			t.Errorf("groupware folder %s: %+v (present %t), want %s %s total %d", id, g, ok, class, elem, total)
		}
	}
	ncal := 0
	for _, cal := range ten.Calendars(u.ID) {
		if cal.Owner.Address != "" && !strings.EqualFold(cal.Owner.Address, u.Mail) && !cal.IsDefault {
			if _, ok := got[cal.ID]; ok {
				t.Errorf("calendar shared by %s is a folder of %s", cal.Owner.Address, u.Mail)
			}
			continue
		}
		ncal++
		check(cal.ID, "IPF.Appointment", "CalendarFolder", len(ten.Events(u.ID, cal.ID)))
	}
	for _, cf := range ten.ContactFolders(u.ID) {
		check(cf.ID, "IPF.Contact", "ContactsFolder", len(ten.Contacts(u.ID, cf.ID)))
	}
	for _, l := range ten.TaskLists(u.ID) {
		if l.WellKnown != "flaggedEmails" {
			check(l.ID, "IPF.Task", "TasksFolder", len(ten.Tasks(u.ID, l.ID)))
		}
	}
	if ncal == 0 || len(ten.ContactFolders(u.ID)) == 0 {
		t.Fatal("the tenant has no calendar or contact folder")
	}

	// Nothing changed: the next sync is empty; an unknown or expired state is refused.
	state := n.first("SyncState").Text
	req := func(st string) string {
		return `<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncState>` + st + `</m:SyncState></m:SyncFolderHierarchy>`
	}
	n = c.mustOK(req(state))
	if k := n.first("Changes").Kids; len(k) != 0 {
		t.Errorf("second hierarchy sync: %d changes", len(k))
	}
	ten.ExpireDeltaTokens()
	if _, n = c.call(req(n.first("SyncState").Text)); n.first("ResponseCode").Text != "ErrorInvalidSyncStateData" {
		t.Errorf("expired hierarchy state: %s", n.dump())
	}

	// GetFolder: distinguished (with and without Mailbox), by id, unknown.
	inbox, _ := ten.Folder(u.ID, "inbox")
	n = c.mustOKOr(`<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds>` +
		`<t:DistinguishedFolderId Id="inbox"/><t:FolderId Id="` + inbox.ID + `"/>` +
		`<t:DistinguishedFolderId Id="msgfolderroot"><t:Mailbox><t:EmailAddress>` + u.Mail + `</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>` +
		`<t:FolderId Id="AAMkAnope"/><t:DistinguishedFolderId Id="calendar"/><t:DistinguishedFolderId Id="tasks"/><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder>`)
	msgs := n.all("GetFolderResponseMessage")
	if len(msgs) != 7 {
		t.Fatalf("GetFolder: %d messages", len(msgs))
	}
	wantIDs := []string{inbox.ID, inbox.ID, root, "", "", "", ""}
	for i, m := range msgs {
		id := m.first("FolderId").Attr["Id"]
		switch {
		case i == 3:
			if m.Attr["ResponseClass"] != "Error" || m.kid("ResponseCode").Text != "ErrorFolderNotFound" {
				t.Errorf("unknown folder: %v %s", m.Attr, m.kid("ResponseCode").Text)
			}
		case i >= 4:
			if id == "" || m.first("FolderClass").Text == "" {
				t.Errorf("message %d: no folder", i)
			}
		case id != wantIDs[i]:
			t.Errorf("message %d: FolderId %q, want %q", i, id, wantIDs[i])
		}
	}
	if total, unread, _ := ten.FolderCounts(u.ID, inbox.ID); msgs[0].first("TotalCount").Text != strconv.Itoa(total) || msgs[0].first("UnreadCount").Text != strconv.Itoa(unread) {
		t.Errorf("inbox counts %s/%s, want %d/%d", msgs[0].first("TotalCount").Text, msgs[0].first("UnreadCount").Text, total, unread)
	}

	// FindFolder Deep from msgfolderroot finds the same folders as the hierarchy sync,
	// Shallow only the children; paging.
	n = c.mustOK(`<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`)
	if ids := n.all("FolderId"); len(ids) != len(got) {
		t.Errorf("FindFolder Deep: %d folders, hierarchy %d", len(ids), len(got))
	}
	n = c.mustOK(`<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`)
	shallow := 0
	for _, g := range got {
		if g.parent == root {
			shallow++
		}
	}
	if ids := n.all("FolderId"); len(ids) != shallow {
		t.Errorf("FindFolder Shallow: %d folders, want %d", len(ids), shallow)
	}
	var paged []string
	for off := 0; ; {
		n = c.mustOK(fmt.Sprintf(`<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned="5" Offset="%d" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`, off))
		for _, f := range n.all("FolderId") {
			paged = append(paged, f.Attr["Id"])
		}
		rf := n.first("RootFolder")
		if rf.Attr["TotalItemsInView"] != strconv.Itoa(len(got)) {
			t.Fatalf("TotalItemsInView %s", rf.Attr["TotalItemsInView"])
		}
		if rf.Attr["IncludesLastItemInRange"] == "true" {
			break
		}
		off, _ = strconv.Atoi(rf.Attr["IndexedPagingOffset"])
		if len(paged) > 1000 {
			t.Fatal("paging does not end")
		}
	}
	if len(paged) != len(got) {
		t.Errorf("paged FindFolder: %d folders, want %d", len(paged), len(got))
	}
}

const syncReqFmt = `<m:SyncFolderItems><m:ItemShape><t:BaseShape>%s</t:BaseShape></m:ItemShape><m:SyncFolderId><t:FolderId Id="%s"/></m:SyncFolderId>%s<m:MaxChangesReturned>%d</m:MaxChangesReturned><m:SyncScope>NormalItems</m:SyncScope></m:SyncFolderItems>`

func syncReq(shape, folder, state string, max int) string {
	st := ""
	if state != "" {
		st = "<m:SyncState>" + state + "</m:SyncState>"
	}
	return fmt.Sprintf(syncReqFmt, shape, folder, st, max)
}

// syncAll pages through SyncFolderItems and returns the changes (kind, id) and the last state.
func syncAll(t *testing.T, c *coreClient, folder, state string, max int) (changes [][2]string, last string, pages int) {
	t.Helper()
	for {
		n := c.mustOK(syncReq("IdOnly", folder, state, max))
		pages++
		ch := n.first("Changes").Kids
		if len(ch) > max {
			t.Fatalf("page of %d changes, max %d", len(ch), max)
		}
		for _, k := range ch {
			id := k.first("ItemId").Attr["Id"]
			if k.Name == "ReadFlagChange" {
				id += "=" + k.kid("IsRead").Text
			}
			changes = append(changes, [2]string{k.Name, id})
		}
		state = n.first("SyncState").Text
		if n.first("IncludesLastItemInRange").Text == "true" {
			return changes, state, pages
		}
		if pages > 1000 {
			t.Fatal("sync does not end")
		}
	}
}

func TestSyncFolderItems(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	inbox, _ := ten.Folder(u.ID, "inbox")
	var live []tenant.Message
	for _, m := range ten.Messages(u.ID) {
		if m.FolderID == inbox.ID {
			live = append(live, m)
		}
	}
	if len(live) < 5 {
		t.Fatalf("inbox holds %d messages", len(live))
	}
	changes, state, pages := syncAll(t, c, inbox.ID, "", 3)
	if len(changes) != len(live) || pages != (len(live)+2)/3 {
		t.Fatalf("first sync: %d changes in %d pages, want %d", len(changes), pages, len(live))
	}
	for i, ch := range changes {
		if ch[0] != "Create" || ch[1] != live[i].ID {
			t.Errorf("change %d = %v, want Create %s", i, ch, live[i].ID)
		}
	}

	// Nothing new.
	if ch, _, _ := syncAll(t, c, inbox.ID, state, 512); len(ch) != 0 {
		t.Errorf("idle sync: %v", ch)
	}
	// Mutations: read state, flag, a new message, a deletion, a move out.
	if err := ten.SetRead(u.ID, live[0].ID, !live[0].IsRead); err != nil {
		t.Fatal(err)
	}
	if err := ten.SetFlag(u.ID, live[1].ID, "flagged"); err != nil {
		t.Fatal(err)
	}
	added, err := ten.AddMessage(u.ID, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := ten.DeleteMessage(u.ID, live[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := ten.MoveMessage(u.ID, live[3].ID, "deleteditems"); err != nil {
		t.Fatal(err)
	}
	changes, state2, _ := syncAll(t, c, inbox.ID, state, 2)
	want := map[[2]string]bool{
		{"ReadFlagChange", fmt.Sprintf("%s=%t", live[0].ID, !live[0].IsRead)}: true,
		{"Update", live[1].ID}: true,
		{"Create", added.ID}:   true,
		{"Delete", live[2].ID}: true,
		{"Delete", live[3].ID}: true,
	}
	if len(changes) != len(want) {
		t.Errorf("incremental sync: %v", changes)
	}
	for _, ch := range changes {
		if !want[ch] {
			t.Errorf("unexpected change %v (all: %v)", ch, changes)
		}
	}
	// The older state still answers from where it was (replay), the newer is idle.
	if ch, _, _ := syncAll(t, c, inbox.ID, state2, 512); len(ch) != 0 {
		t.Errorf("sync after catching up: %v", ch)
	}
	if ch, _, _ := syncAll(t, c, inbox.ID, state, 512); len(ch) != len(want) {
		t.Errorf("replayed state: %v", ch)
	}

	// A Default shape Create carries the message's properties.
	n := c.mustOK(syncReq("Default", inbox.ID, "", 1))
	m := n.first("Create").kid("Message")
	if m.kid("ItemId").Attr["ChangeKey"] == "" || m.kid("ParentFolderId").Attr["Id"] != inbox.ID || m.kid("DateTimeReceived").Text == "" || m.kid("IsRead").Text == "" {
		t.Errorf("Default Create: %s", n.dump())
	}

	// Invalid states.
	for name, st := range map[string]string{"garbage": "H4sI-not-a-state", "other folder": ""} {
		if name == "other folder" {
			drafts, _ := ten.Folder(u.ID, "drafts")
			_, st, _ = syncAll(t, c, drafts.ID, "", 512)
		}
		_, n := c.call(syncReq("IdOnly", inbox.ID, st, 10))
		if got := n.first("ResponseCode").Text; got != "ErrorInvalidSyncStateData" || n.first("SyncFolderItemsResponseMessage").Attr["ResponseClass"] != "Error" {
			t.Errorf("%s state: %s", name, got)
		}
	}
	ten.ExpireDeltaTokens()
	if _, n := c.call(syncReq("IdOnly", inbox.ID, state2, 10)); n.first("ResponseCode").Text != "ErrorInvalidSyncStateData" {
		t.Errorf("state after ExpireDeltaTokens: %s", n.dump())
	}
	_, state3, _ := syncAll(t, c, inbox.ID, "", 512)
	s.ExpireSyncStates()
	if _, n := c.call(syncReq("IdOnly", inbox.ID, state3, 10)); n.first("ResponseCode").Text != "ErrorInvalidSyncStateData" {
		t.Errorf("state after ExpireSyncStates: %s", n.dump())
	}
	// MaxChangesReturned out of 1–512 is a schema fault.
	for _, max := range []int{0, 513} {
		if st, n := c.call(syncReq("IdOnly", inbox.ID, "", max)); st != 500 || n.first("faultcode").Text != "a:ErrorSchemaValidation" {
			t.Errorf("MaxChangesReturned %d: %d %s", max, st, n.dump())
		}
	}
	// Unknown folder.
	if _, n := c.call(syncReq("IdOnly", "AAMkAnope", "", 10)); n.first("ResponseCode").Text != "ErrorFolderNotFound" {
		t.Errorf("unknown folder: %s", n.dump())
	}
}

func TestGetItem(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	svc := basicClient(t, s, "svc-bascule@"+s.domain, "Service-Pa55!")
	svc.impersonate, svc.anchor = u.Mail, u.Mail
	msgs := ten.Messages(u.ID)
	if len(msgs) < 12 {
		t.Fatalf("%d messages", len(msgs))
	}
	batch := msgs[:10]
	if err := ten.SetFlag(u.ID, batch[1].ID, "complete"); err != nil {
		t.Fatal(err)
	}
	if err := ten.SetLastVerb(u.ID, batch[2].ID, 102); err != nil {
		t.Fatal(err)
	}
	gone := msgs[11]
	if err := ten.DeleteMessage(u.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	var ids strings.Builder
	for _, m := range batch {
		fmt.Fprintf(&ids, `<t:ItemId Id="%s" ChangeKey="%s"/>`, m.ID, m.ChangeKey)
	}
	ids.WriteString(`<t:ItemId Id="` + gone.ID + `"/>`)
	n := svc.mustOKOr(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:AdditionalProperties>` +
		`<t:FieldURI FieldURI="item:ParentFolderId"/><t:FieldURI FieldURI="message:IsRead"/><t:FieldURI FieldURI="item:Flag"/><t:FieldURI FieldURI="item:DateTimeReceived"/>` +
		`<t:FieldURI FieldURI="item:Size"/><t:FieldURI FieldURI="message:InternetMessageId"/><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/>` +
		`</t:AdditionalProperties></m:ItemShape><m:ItemIds>` + ids.String() + `</m:ItemIds></m:GetItem>`)
	rms := n.all("GetItemResponseMessage")
	if len(rms) != len(batch)+1 {
		t.Fatalf("%d response messages", len(rms))
	}
	for i, m := range batch {
		m, _ = ten.Message(u.ID, m.ID)
		x := rms[i].first("Message")
		mc := x.kid("MimeContent")
		raw, err := base64.StdEncoding.DecodeString(mc.Text)
		if err != nil {
			t.Fatalf("MimeContent: %v", err)
		}
		rc, _, err := ten.MIME(u.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(raw, want) || mc.Attr["CharacterSet"] != "UTF-8" {
			t.Errorf("message %d: MimeContent differs from the tenant's bytes (%d vs %d)", i, len(raw), len(want))
		}
		if x.kid("ItemId").Attr["Id"] != m.ID || x.kid("ItemId").Attr["ChangeKey"] != m.ChangeKey || x.kid("ParentFolderId").Attr["Id"] != m.FolderID {
			t.Errorf("message %d: ids %v %v", i, x.kid("ItemId").Attr, x.kid("ParentFolderId").Attr)
		}
		if x.kid("IsRead").Text != strconv.FormatBool(m.IsRead) || x.kid("Size").Text != strconv.FormatInt(m.Size, 10) ||
			x.kid("InternetMessageId").Text != m.InternetMessageID || x.kid("DateTimeReceived").Text != m.Received.UTC().Format(time.RFC3339) {
			t.Errorf("message %d: properties %s", i, rms[i].dump())
		}
		if got := x.kid("Flag").kid("FlagStatus").Text; got != flagStatus(m.Flag) {
			t.Errorf("message %d: FlagStatus %s, want %s", i, got, flagStatus(m.Flag))
		}
		ep := x.kid("ExtendedProperty").kid("Value").Text
		if (m.LastVerb == 0 && ep != "") || (m.LastVerb != 0 && ep != strconv.Itoa(m.LastVerb)) {
			t.Errorf("message %d: last verb %q, want %d", i, ep, m.LastVerb)
		}
	}
	if got := rms[1].first("FlagStatus").Text; got != "Complete" {
		t.Errorf("completed flag: %s", got)
	}
	last := rms[len(batch)]
	if last.Attr["ResponseClass"] != "Error" || last.kid("ResponseCode").Text != "ErrorItemNotFound" || last.kid("Items").Name != "Items" { // messages.xsd requires Items
		t.Errorf("vanished item: %v %s", last.Attr, last.kid("ResponseCode").Text)
	}
	// Element order in a Message follows types.xsd: MimeContent, ItemId, ParentFolderId ...
	var order []string
	for _, k := range rms[2].first("Message").Kids {
		order = append(order, k.Name)
	}
	if got := strings.Join(order, ","); got != "MimeContent,ItemId,ParentFolderId,DateTimeReceived,Size,ExtendedProperty,Flag,InternetMessageId,IsRead" {
		t.Errorf("element order: %s", got)
	}
	if got := s.Counts()["GetItem"]; got != 1 {
		t.Errorf("Counts()[GetItem] = %d", got)
	}
}

// TestCrawl reads every message of every mailbox (the shared one included) the way a
// migration does — impersonation, SyncFolderHierarchy, SyncFolderItems pages, GetItem batches
// with MimeContent — and finds exactly the tenant's messages, byte for byte.
func TestCrawl(t *testing.T) {
	s, ten := startCore(t, Options{})
	name, pass := s.ServiceAccount()
	total := 0
	for _, u := range ten.Users() {
		c := basicClient(t, s, name, pass)
		c.impersonate, c.anchor = u.Mail, u.Mail
		want := map[string]tenant.Message{}
		for _, m := range ten.Messages(u.ID) {
			want[m.ID] = m
		}
		n := c.mustOK(`<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:FolderClass"/></t:AdditionalProperties></m:FolderShape></m:SyncFolderHierarchy>`)
		seen := 0
		for _, f := range n.all("Folder") { // mail folders only (<t:Folder>, class IPF.Note)
			if f.kid("FolderClass").Text != "IPF.Note" {
				t.Errorf("%s: a t:Folder of class %q", u.Mail, f.kid("FolderClass").Text)
				continue
			}
			fid := f.kid("FolderId").Attr["Id"]
			changes, _, _ := syncAll(t, c, fid, "", 7)
			for i := 0; i < len(changes); i += 10 {
				var ids strings.Builder
				for _, ch := range changes[i:min(i+10, len(changes))] {
					ids.WriteString(`<t:ItemId Id="` + ch[1] + `"/>`)
				}
				g := c.mustOK(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:AdditionalProperties><t:FieldURI FieldURI="item:ParentFolderId"/></t:AdditionalProperties></m:ItemShape><m:ItemIds>` + ids.String() + `</m:ItemIds></m:GetItem>`)
				for _, m := range g.all("Message") {
					id := m.kid("ItemId").Attr["Id"]
					w, ok := want[id]
					raw, _ := base64.StdEncoding.DecodeString(m.kid("MimeContent").Text)
					if !ok || sha(raw) != w.SHA256 || m.kid("ParentFolderId").Attr["Id"] != fid {
						t.Errorf("%s: message %s (known %t) differs", u.Mail, id, ok)
					}
					delete(want, id)
					seen++
				}
			}
		}
		if len(want) != 0 {
			t.Errorf("%s: %d messages never seen", u.Mail, len(want))
		}
		total += seen
	}
	if n, _ := ten.Stats(); total != n {
		t.Errorf("crawled %d messages, the tenant holds %d", total, n)
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
