package ews

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform/sieve"
)

// fakeEWS answers the groupware and settings operations with canned XML, the way
// Exchange 2016 shapes them.
type fakeEWS struct {
	t       *testing.T
	ops     []string
	expired bool // SyncFolderItems answers ErrorInvalidSyncStateData to a cursor
}

const envOpen = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/></s:Header><s:Body xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">`
const envClose = `</s:Body></s:Envelope>`

var idAttr = regexp.MustCompile(`<t:(?:ItemId|FolderId|DistinguishedFolderId|AttachmentId) Id="([^"]*)"`)

func folderXML(elem, id, parent, class, name string, perms string) string {
	return fmt.Sprintf(`<t:%s><t:FolderId Id="%s" ChangeKey="AQ"/><t:ParentFolderId Id="%s"/><t:FolderClass>%s</t:FolderClass><t:DisplayName>%s</t:DisplayName><t:TotalCount>2</t:TotalCount><t:EffectiveRights><t:CreateAssociated>true</t:CreateAssociated><t:CreateContents>true</t:CreateContents></t:EffectiveRights>%s</t:%s>`,
		elem, id, parent, class, name, perms, elem)
}

var fakeFolders = map[string][2]string{ // id → element, class
	"cal": {"CalendarFolder", "IPF.Appointment"}, "cal2": {"CalendarFolder", "IPF.Appointment"},
	"con": {"ContactsFolder", "IPF.Contact"}, "tsk": {"TasksFolder", "IPF.Task"},
	"inb": {"Folder", "IPF.Note"}, "prj": {"Folder", "IPF.Note"}, "srch": {"SearchFolder", "IPF.Note"},
	"gal": {"ContactsFolder", "IPF.Contact.GalContacts"},
}
var fakeNames = map[string]string{"cal": "Calendrier", "cal2": "Congés", "con": "Contacts", "tsk": "Tâches",
	"inb": "Boîte de réception", "prj": "Projets", "srch": "Rappels", "gal": "GAL Contacts", "deleteditems": "del"}
var fakeParents = map[string]string{"prj": "inb"}
var fakeDistinguished = map[string]string{"calendar": "cal", "contacts": "con", "tasks": "tsk", "inbox": "inb", "msgfolderroot": "root", "deleteditems": "del"}

func (f *fakeEWS) folder(id string, perms bool) string {
	k := fakeFolders[id]
	parent := fakeParents[id]
	if parent == "" {
		parent = "root"
	}
	p := ""
	if perms {
		none := `<t:Permission><t:UserId><t:DistinguishedUser>Anonymous</t:DistinguishedUser></t:UserId><t:CanCreateItems>false</t:CanCreateItems><t:CanCreateSubFolders>false</t:CanCreateSubFolders><t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>false</t:IsFolderVisible><t:IsFolderContact>false</t:IsFolderContact><t:EditItems>None</t:EditItems><t:DeleteItems>None</t:DeleteItems><t:ReadItems>None</t:ReadItems><t:PermissionLevel>None</t:PermissionLevel></t:Permission>`
		switch id {
		case "cal":
			p = `<t:PermissionSet><t:CalendarPermissions>
<t:CalendarPermission><t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId><t:CanCreateItems>false</t:CanCreateItems><t:CanCreateSubFolders>false</t:CanCreateSubFolders><t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>false</t:IsFolderVisible><t:IsFolderContact>false</t:IsFolderContact><t:EditItems>None</t:EditItems><t:DeleteItems>None</t:DeleteItems><t:ReadItems>TimeOnly</t:ReadItems><t:CalendarPermissionLevel>FreeBusyTimeOnly</t:CalendarPermissionLevel></t:CalendarPermission>
<t:CalendarPermission><t:UserId><t:SID>S-1-5-21-1</t:SID><t:PrimarySmtpAddress>bob@contoso.com</t:PrimarySmtpAddress><t:DisplayName>Bob</t:DisplayName></t:UserId><t:CanCreateItems>true</t:CanCreateItems><t:CanCreateSubFolders>false</t:CanCreateSubFolders><t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>true</t:IsFolderVisible><t:IsFolderContact>false</t:IsFolderContact><t:EditItems>All</t:EditItems><t:DeleteItems>All</t:DeleteItems><t:ReadItems>FullDetails</t:ReadItems><t:CalendarPermissionLevel>Editor</t:CalendarPermissionLevel></t:CalendarPermission>
</t:CalendarPermissions></t:PermissionSet>`
			p = strings.ReplaceAll(p, "\n", "")
		case "prj":
			p = `<t:PermissionSet><t:Permissions>` + none + `<t:Permission><t:UserId><t:PrimarySmtpAddress>chloe@contoso.com</t:PrimarySmtpAddress></t:UserId><t:CanCreateItems>true</t:CanCreateItems><t:CanCreateSubFolders>false</t:CanCreateSubFolders><t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>true</t:IsFolderVisible><t:IsFolderContact>false</t:IsFolderContact><t:EditItems>Owned</t:EditItems><t:DeleteItems>None</t:DeleteItems><t:ReadItems>FullDetails</t:ReadItems><t:PermissionLevel>Custom</t:PermissionLevel></t:Permission></t:Permissions></t:PermissionSet>`
		default:
			p = `<t:PermissionSet><t:Permissions>` + none + `</t:Permissions></t:PermissionSet>`
		}
	}
	return folderXML(k[0], id, parent, k[1], fakeNames[id], p)
}

func ok(name, inner string) string {
	return fmt.Sprintf(`<m:%sResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>%s</m:%sResponseMessage>`, name, inner, name)
}

func notFound(name string) string {
	return fmt.Sprintf(`<m:%sResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:%sResponseMessage>`, name, name)
}

const taskXML = `<t:Task><t:ItemId Id="task1" ChangeKey="T1"/><t:Subject>Relire</t:Subject><t:Body BodyType="Text">x</t:Body><t:Status>NotStarted</t:Status></t:Task>`

func (f *fakeEWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	req := string(b)
	op := strings.TrimSuffix(strings.TrimPrefix(strings.Trim(r.Header.Get("SOAPAction"), `"`), NSMessages+"/"), "Request")
	f.ops = append(f.ops, op)
	var ids []string
	for _, m := range idAttr.FindAllStringSubmatch(req, -1) {
		ids = append(ids, m[1])
	}
	var body string
	switch op {
	case "SyncFolderHierarchy":
		var cs strings.Builder
		for _, id := range []string{"cal", "con", "tsk", "inb", "prj", "srch", "cal2", "gal"} {
			cs.WriteString("<t:Create>" + f.folder(id, false) + "</t:Create>")
		}
		body = `<m:SyncFolderHierarchyResponse><m:ResponseMessages>` + ok("SyncFolderHierarchy",
			`<m:SyncState>H1</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>`+cs.String()+`</m:Changes>`) +
			`</m:ResponseMessages></m:SyncFolderHierarchyResponse>`
	case "GetFolder":
		var ms strings.Builder
		for _, id := range ids {
			if d, isD := fakeDistinguished[id]; isD && strings.Contains(req, `DistinguishedFolderId Id="`+id+`"`) {
				if id == "msgfolderroot" || id == "deleteditems" {
					ms.WriteString(ok("GetFolder", `<m:Folders><t:Folder><t:FolderId Id="`+d+`"/></t:Folder></m:Folders>`))
				} else {
					ms.WriteString(ok("GetFolder", `<m:Folders>`+f.folder(d, false)+`</m:Folders>`))
				}
				continue
			}
			if _, known := fakeFolders[id]; !known {
				ms.WriteString(notFound("GetFolder"))
				continue
			}
			ms.WriteString(ok("GetFolder", `<m:Folders>`+f.folder(id, true)+`</m:Folders>`))
		}
		body = `<m:GetFolderResponse><m:ResponseMessages>` + ms.String() + `</m:ResponseMessages></m:GetFolderResponse>`
	case "SyncFolderItems":
		state := regexp.MustCompile(`<m:SyncState>([^<]*)</m:SyncState>`).FindStringSubmatch(req)
		if f.expired && state != nil {
			body = `<m:SyncFolderItemsResponse><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Error"><m:MessageText>Synchronization state data is corrupt or otherwise invalid.</m:MessageText><m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange></m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>`
			break
		}
		var inner string
		switch {
		case state == nil && ids[0] == "cal":
			inner = `<m:SyncState>S1</m:SyncState><m:IncludesLastItemInRange>false</m:IncludesLastItemInRange><m:Changes><t:Create><t:CalendarItem><t:ItemId Id="AAMkMaster=" ChangeKey="DwAAAB"/></t:CalendarItem></t:Create><t:Create><t:CalendarItem><t:ItemId Id="gone" ChangeKey="x"/></t:CalendarItem></t:Create></m:Changes>`
		case state == nil && ids[0] == "con":
			inner = `<m:SyncState>C1</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes><t:Create><t:DistributionList><t:ItemId Id="dl1" ChangeKey="x"/></t:DistributionList></t:Create><t:Create><t:Contact><t:ItemId Id="AAMkContact=" ChangeKey="EQAAAB"/></t:Contact></t:Create></m:Changes>`
		case state == nil && ids[0] == "cal2":
			// Only items deleted between the sync and the GetItem.
			inner = `<m:SyncState>D1</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes><t:Create><t:CalendarItem><t:ItemId Id="gone" ChangeKey="x"/></t:CalendarItem></t:Create></m:Changes>`
		case state == nil && ids[0] == "tsk":
			inner = `<m:SyncState>T1</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes><t:Create><t:Task><t:ItemId Id="task1" ChangeKey="T1"/></t:Task></t:Create></m:Changes>`
		default:
			inner = `<m:SyncState>S2</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange><m:Changes><t:Delete><t:ItemId Id="old1" ChangeKey="x"/></t:Delete><t:ReadFlagChange><t:ItemId Id="r" ChangeKey="x"/><t:IsRead>true</t:IsRead></t:ReadFlagChange></m:Changes>`
		}
		body = `<m:SyncFolderItemsResponse><m:ResponseMessages>` + ok("SyncFolderItems", inner) + `</m:ResponseMessages></m:SyncFolderItemsResponse>`
	case "GetItem":
		var ms strings.Builder
		for _, id := range ids {
			var item string
			switch id {
			case "AAMkMaster=":
				item = masterXML
			case "AAMkExc1=":
				item = exceptionXML
			case "AAMkContact=":
				item = contactXML
			case "task1":
				item = taskXML
			default:
				ms.WriteString(notFound("GetItem"))
				continue
			}
			item = strings.Replace(item, ` xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"`, "", 1)
			ms.WriteString(ok("GetItem", `<m:Items>`+item+`</m:Items>`))
		}
		body = `<m:GetItemResponse><m:ResponseMessages>` + ms.String() + `</m:ResponseMessages></m:GetItemResponse>`
	case "GetAttachment":
		var ms strings.Builder
		for _, id := range ids {
			ms.WriteString(ok("GetAttachment", `<m:Attachments><t:FileAttachment><t:AttachmentId Id="`+id+`"/><t:Name>`+id+`.bin</t:Name><t:ContentType>text/plain</t:ContentType><t:Size>5</t:Size><t:IsInline>false</t:IsInline><t:Content>aGVsbG8=</t:Content></t:FileAttachment></m:Attachments>`))
		}
		body = `<m:GetAttachmentResponse><m:ResponseMessages>` + ms.String() + `</m:ResponseMessages></m:GetAttachmentResponse>`
	case "GetUserOofSettings":
		body = `<GetUserOofSettingsResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage><OofSettings xmlns="http://schemas.microsoft.com/exchange/services/2006/types"><OofState>Scheduled</OofState><ExternalAudience>Known</ExternalAudience><Duration><StartTime>2026-07-01T07:00:00Z</StartTime><EndTime>2026-07-15T17:00:00Z</EndTime></Duration><InternalReply><Message>&lt;p&gt;En congés&lt;/p&gt;</Message></InternalReply><ExternalReply><Message>Absente</Message></ExternalReply></OofSettings><AllowExternalOof>All</AllowExternalOof></GetUserOofSettingsResponse>`
	case "GetInboxRules":
		body = `<GetInboxRulesResponse ResponseClass="Success" xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseCode>NoError</ResponseCode><OutlookRuleBlobExists>true</OutlookRuleBlobExists><InboxRules>` +
			`<Rule xmlns="http://schemas.microsoft.com/exchange/services/2006/types"><RuleId>r2</RuleId><DisplayName>Classes</DisplayName><Priority>2</Priority><IsEnabled>true</IsEnabled><Conditions><ItemClasses><String>IPM.Note.Voice</String></ItemClasses></Conditions><Actions><Delete>true</Delete></Actions></Rule>` +
			`<Rule xmlns="http://schemas.microsoft.com/exchange/services/2006/types"><RuleId>r1</RuleId><DisplayName>Projets</DisplayName><Priority>1</Priority><IsEnabled>true</IsEnabled><Conditions><ContainsSubjectStrings><String>[projet]</String></ContainsSubjectStrings><FromAddresses><Address><Name>Bob</Name><EmailAddress>bob@contoso.com</EmailAddress><RoutingType>SMTP</RoutingType></Address></FromAddresses></Conditions><Exceptions><SentOnlyToMe>true</SentOnlyToMe></Exceptions><Actions><MoveToFolder><FolderId Id="prj"/></MoveToFolder><MarkAsRead>true</MarkAsRead><StopProcessingRules>true</StopProcessingRules></Actions></Rule>` +
			`<Rule xmlns="http://schemas.microsoft.com/exchange/services/2006/types"><RuleId>r3</RuleId><DisplayName>Corbeille</DisplayName><Priority>3</Priority><IsEnabled>true</IsEnabled><Conditions><WithinSizeRange><MinimumSize>1024</MinimumSize></WithinSizeRange></Conditions><Actions><CopyToFolder><DistinguishedFolderId Id="deleteditems"/></CopyToFolder><ServerReplyWithMessage><ItemId Id="tmpl"/></ServerReplyWithMessage></Actions></Rule>` +
			`</InboxRules></GetInboxRulesResponse>`
	case "GetDelegate":
		body = `<m:GetDelegateResponse ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResponseMessages><m:DelegateUserResponseMessageType ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:DelegateUser><t:UserId><t:SID>S-1-5-21-1</t:SID><t:PrimarySmtpAddress>bob@contoso.com</t:PrimarySmtpAddress><t:DisplayName>Bob</t:DisplayName></t:UserId><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel><t:TasksFolderPermissionLevel>Reviewer</t:TasksFolderPermissionLevel><t:InboxFolderPermissionLevel>None</t:InboxFolderPermissionLevel></t:DelegatePermissions><t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages><t:ViewPrivateItems>true</t:ViewPrivateItems></m:DelegateUser></m:DelegateUserResponseMessageType></m:ResponseMessages><m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests></m:GetDelegateResponse>`
	default:
		f.t.Errorf("unexpected operation %q", op)
		w.WriteHeader(500)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, envOpen+body+envClose)
}

func newFake(t *testing.T) (*fakeEWS, *Client) {
	f := &fakeEWS{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{URL: srv.URL, Transport: http.DefaultTransport, Impersonate: true,
		MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

var alice = model.Mailbox{ID: "alice@contoso.com", Address: "alice@contoso.com"}

func TestCollections(t *testing.T) {
	_, c := newFake(t)
	cols, err := gwCollections(context.Background(), c, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, col := range cols {
		got = append(got, fmt.Sprintf("%s:%s:%s:%v", col.Kind, col.ID, col.Name, col.Default))
	}
	want := "calendar:cal:Calendrier:true calendar:cal2:Congés:false contacts:con:Contacts:true tasks:tsk:Tâches:true"
	if strings.Join(got, " ") != want {
		t.Errorf("collections:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	cols, err = gwCollections(context.Background(), c, alice, []model.CollectionKind{model.KindTasks})
	if err != nil || len(cols) != 1 || cols[0].ID != "tsk" {
		t.Errorf("tasks only: %v %v", cols, err)
	}
}

func collect(t *testing.T, c *Client, col model.Collection, cursor string) ([]extract.Change, error) {
	var out []extract.Change
	var err error
	gwRecords(context.Background(), c, alice, col, cursor, nil, func(ch extract.Change, e error) bool {
		if e != nil {
			err = e
			return false
		}
		out = append(out, ch)
		return true
	})
	return out, err
}

func TestRecords(t *testing.T) {
	f, c := newFake(t)
	chs, err := collect(t, c, model.Collection{ID: "cal", Kind: model.KindCalendar, Name: "Calendrier"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range chs {
		got = append(got, fmt.Sprintf("%d:%s:%s:%v", ch.Kind, ch.Record.ID, ch.Cursor, ch.Final))
	}
	// The master (its exception and attachment fetched), "gone" left out (deleted in
	// between), a checkpoint, then the second page's delete and the final checkpoint.
	if want := "1:AAMkMaster=::false 3::S1:false 2:old1::false 3::S2:true"; strings.Join(got, " ") != want {
		t.Errorf("changes:\n got %s\nwant %s\nops %v", strings.Join(got, " "), want, f.ops)
	}
	var ev struct {
		ChangeKey  string            `json:"changeKey"`
		Exceptions []json.RawMessage `json:"exceptionOccurrences"`
		Attach     []struct {
			ContentBytes string `json:"contentBytes"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(chs[0].Record.Payload, &ev); err != nil || len(ev.Exceptions) != 1 || len(ev.Attach) != 1 || ev.Attach[0].ContentBytes != "aGVsbG8=" || chs[0].Record.ChangeKey != "DwAAAB" {
		t.Errorf("master payload: %v %s", err, chs[0].Record.Payload)
	}

	chs, err = collect(t, c, model.Collection{ID: "con", Kind: model.KindContacts}, "")
	if err != nil || len(chs) != 2 || chs[0].Record.ID != "AAMkContact=" || string(chs[0].Record.Photo) != "hello" || !chs[1].Final {
		t.Errorf("contacts: %v %+v", err, chs)
	}
	chs, err = collect(t, c, model.Collection{ID: "tsk", Kind: model.KindTasks}, "")
	if err != nil || len(chs) != 2 || chs[0].Record.Subject != "Relire" || !strings.Contains(string(chs[0].Record.Payload), `"checklistItems":[]`) {
		t.Errorf("tasks: %v %+v", err, chs)
	}

	chs, err = collect(t, c, model.Collection{ID: "cal2", Kind: model.KindCalendar}, "")
	if err != nil || len(chs) != 1 || chs[0].Kind != extract.Checkpoint || chs[0].Cursor != "D1" {
		t.Errorf("a page of items gone since the sync: %v %+v", err, chs)
	}

	f.expired = true
	if _, err := collect(t, c, model.Collection{ID: "cal", Kind: model.KindCalendar}, "S1"); !errors.Is(err, model.ErrCursorExpired) {
		t.Errorf("expired cursor: %v", err)
	}
}

func TestSettings(t *testing.T) {
	_, c := newFake(t)
	s, err := gwSettings(context.Background(), c, alice)
	if err != nil {
		t.Fatal(err)
	}
	ar := s.AutoReply
	if ar == nil || ar.Status != "scheduled" || ar.ExternalAudience != "contactsOnly" || ar.Start.Format("2006-01-02T15") != "2026-07-01T07" ||
		ar.InternalReply != "<p>En congés</p>" || ar.ExternalReply != "Absente" {
		t.Errorf("auto reply: %+v", ar)
	}

	var grants []string
	for _, g := range s.Grants {
		grants = append(grants, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%v", g.Grantee, g.Scope, g.FolderPath, g.FolderID, g.Role, strings.Join(g.Rights, ","), g.Flags))
	}
	want := []string{
		"Default|calendar|Calendrier|cal|AvailabilityOnly||[]",
		"bob@contoso.com|calendar|Calendrier|cal|Editor||[Delegate CanViewPrivateItems]",
		"chloe@contoso.com|folder|Boîte de réception/Projets|prj|Custom|ReadItems,CreateItems,EditOwnedItems,FolderVisible|[]",
		"bob@contoso.com|folder|Tâches|tsk|Reviewer||[]",
	}
	if strings.Join(grants, "\n") != strings.Join(want, "\n") {
		t.Errorf("grants:\n%s\nwant\n%s", strings.Join(grants, "\n"), strings.Join(want, "\n"))
	}

	if len(s.Rules) != 3 || s.Rules[0].Name != "Projets" || s.Rules[0].Sequence != 1 || !s.Rules[2].Enabled {
		t.Fatalf("rules: %+v", s.Rules)
	}
	res, err := sieve.Script(s.Rules, nil, sieve.Options{Folders: map[string]string{"prj": "Projets", "del": "Trash"}, Addresses: []string{alice.Address}})
	if err != nil {
		t.Fatal(err)
	}
	if script := string(res.Script); !strings.Contains(script, `fileinto`) || !strings.Contains(script, `"Projets"`) || !strings.Contains(script, `[projet]`) {
		t.Errorf("sieve script:\n%s", res.Script)
	}
	var unmapped []string
	for _, u := range res.Unmapped {
		unmapped = append(unmapped, u.Rule+": "+u.Reason)
	}
	if len(unmapped) != 2 || !strings.Contains(strings.Join(unmapped, "|"), "ewsItemClasses") || !strings.Contains(strings.Join(unmapped, "|"), "ewsServerReplyWithMessage") {
		t.Errorf("unmapped: %v", unmapped)
	}
}
