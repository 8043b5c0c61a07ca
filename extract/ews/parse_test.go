package ews

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bascule-migrate/bascule/model"
)

// syncDocExample is the incremental SyncFolderItems answer of Microsoft's "Synchronize
// items by using EWS" (envelope namespace corrected to http://), with the elided items
// filled in.
var syncDocExample = soapEnv(`<m:SyncFolderItemsResponse ` + mt + `><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>
 <m:SyncState>H4sIAAAAAAAEAO29B2AcSZY==</m:SyncState><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>
 <m:Changes><t:Update><t:Message><t:ItemId Id="AAMkADMzMGJk" ChangeKey="CQAAABYAAAA"/><t:Subject>Budget</t:Subject><t:DateTimeReceived>2013-07-24T17:44:50Z</t:DateTimeReceived><t:Size>5433</t:Size><t:IsDraft>false</t:IsDraft><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/><t:Value>102</t:Value></t:ExtendedProperty><t:Flag><t:FlagStatus>Flagged</t:FlagStatus></t:Flag><t:InternetMessageId>&lt;a@b&gt;</t:InternetMessageId><t:IsRead>true</t:IsRead></t:Message></t:Update>
  <t:Create><t:MeetingRequest><t:ItemId Id="AAMkNew" ChangeKey="CwAAA"/><t:DateTimeReceived>2013-07-25T08:00:00Z</t:DateTimeReceived><t:IsRead>false</t:IsRead></t:MeetingRequest></t:Create>
  <t:ReadFlagChange><t:ItemId Id="q07AAAAA==" ChangeKey="CQAAAA=="/><t:IsRead>true</t:IsRead></t:ReadFlagChange>
  <t:Delete><t:ItemId Id="q1AwAAAA==" ChangeKey="CQAAAA=="/></t:Delete></m:Changes>
 </m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>`)

func TestParseSyncDocExample(t *testing.T) {
	var r syncFolderItemsResponse
	_, f, err := ParseEnvelope(strings.NewReader(syncDocExample), &r)
	if err != nil || f != nil || len(r.Messages) != 1 {
		t.Fatalf("ParseEnvelope() = %v, %v, %d messages", f, err, len(r.Messages))
	}
	m := r.Messages[0]
	if m.SyncState != "H4sIAAAAAAAEAO29B2AcSZY==" || !m.Last || len(m.Changes.List) != 4 {
		t.Fatalf("message: %+v", m)
	}
	kinds := []string{}
	for _, c := range m.Changes.List {
		kinds = append(kinds, c.XMLName.Local)
	}
	if strings.Join(kinds, ",") != "Update,Create,ReadFlagChange,Delete" {
		t.Errorf("kinds %v", kinds)
	}
	up := toMessage(*m.Changes.List[0].Item, "F")
	want := model.Message{ID: "AAMkADMzMGJk", ChangeKey: "CQAAABYAAAA", FolderID: "F", Size: 5433, MessageID: "<a@b>", Subject: "Budget",
		Flags: model.Flags{Seen: true, Flagged: true, Answered: true}}
	want.Received = up.Received
	if up != want || up.Received.Format("2006-01-02T15:04:05Z") != "2013-07-24T17:44:50Z" {
		t.Errorf("toMessage() = %+v, want %+v", up, want)
	}
	if c := m.Changes.List[1]; c.Item == nil || c.Item.XMLName.Local != "MeetingRequest" || c.Item.ItemID.ID != "AAMkNew" {
		t.Errorf("Create: %+v", c)
	}
	if c := m.Changes.List[2]; c.ItemID == nil || c.ItemID.ID != "q07AAAAA==" || c.IsRead == nil || !*c.IsRead {
		t.Errorf("ReadFlagChange: %+v", c)
	}
	if c := m.Changes.List[3]; c.ItemID == nil || c.ItemID.ID != "q1AwAAAA==" {
		t.Errorf("Delete: %+v", c)
	}
}

func TestParseFault(t *testing.T) {
	_, f, err := ParseEnvelope(strings.NewReader(serverBusyFault("297749")), nil)
	if err != nil || f == nil || f.code() != "ErrorServerBusy" || f.Detail.MessageXML.BackOff().Milliseconds() != 297749 {
		t.Fatalf("ParseEnvelope(fault) = %+v, %v", f, err)
	}
	for _, bad := range []string{"", "<html>502 Bad Gateway</html>", `<s:Envelope xmlns:s="x"><s:Body></s:Body></s:Envelope>`, `<s:Envelope xmlns:s="x"><s:Body><m:X>`} {
		if _, _, err := ParseEnvelope(strings.NewReader(bad), nil); err == nil {
			t.Errorf("ParseEnvelope(%q) accepted", bad)
		}
	}
}

// getItemMIME is the GetItem answer of "Export items by using EWS" around mime.
func getItemMIME(mime []byte) string {
	return soapEnv(`<m:GetItemResponse ` + mt + `><m:ResponseMessages><m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">` +
		base64.StdEncoding.EncodeToString(mime) + `</t:MimeContent><t:ItemId Id="AAMkADEzYjJkLTYxMwB8GqYicWAAA=" ChangeKey="CQAAABzXv"/></t:Message></m:Items></m:GetItemResponseMessage></m:ResponseMessages></m:GetItemResponse>`)
}

func readMIME(doc string, wrap func(io.Reader) io.Reader) ([]byte, error) {
	var r io.Reader = strings.NewReader(doc)
	if wrap != nil {
		r = wrap(r)
	}
	mr, err := NewMIMEReader(io.NopCloser(r))
	if err != nil {
		return nil, err
	}
	defer mr.Close()
	return io.ReadAll(mr)
}

func TestMIMEReader(t *testing.T) {
	mime := []byte("Received: from x\r\nSubject: =?UTF-8?B?w6k=?=\r\n\r\nbare\nLF, NUL \x00 and <tags> & more\r\n")
	big := bytes.Repeat([]byte("0123456789abcdef\r\n"), 200000) // 3.6 MB, many buffer refills
	for name, body := range map[string][]byte{"small": mime, "big": big, "empty": {}} {
		for wname, wrap := range map[string]func(io.Reader) io.Reader{"plain": nil, "onebyte": iotest.OneByteReader, "half": iotest.HalfReader} {
			got, err := readMIME(getItemMIME(body), wrap)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s/%s: %d bytes, %v; want %d bytes exactly", name, wname, len(got), err, len(body))
			}
		}
	}
	// Cut anywhere after the content started: a retryable read error, never a short read.
	doc := getItemMIME(mime)
	start := strings.Index(doc, `UTF-8">`) + len(`UTF-8">`)
	for cut := start; cut < len(doc)-1; cut++ {
		got, err := readMIME(doc[:cut], nil)
		if err == nil {
			t.Fatalf("cut at %d/%d: %d bytes and no error", cut, len(doc), len(got))
		}
		if !errors.Is(err, model.ErrRetryable) {
			t.Fatalf("cut at %d: %v, want retryable", cut, err)
		}
	}
	// An error answer before any content.
	notFound := soapEnv(`<m:GetItemResponse ` + mt + `><m:ResponseMessages><m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:GetItemResponseMessage></m:ResponseMessages></m:GetItemResponse>`)
	_, err := readMIME(notFound, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != "ErrorItemNotFound" || !errors.Is(e.classify(), model.ErrNotFound) {
		t.Errorf("not found answer: %v", err)
	}
	if _, err := readMIME(serverBusyFault("100"), nil); !errors.As(err, &e) || e.Code != "ErrorServerBusy" || e.BackOff.Milliseconds() != 100 {
		t.Errorf("busy fault: %v", err)
	}
}

func TestScanMessages(t *testing.T) {
	// GetDelegate: a root ResponseClass and one per delegate.
	doc := soapEnv(`<m:GetDelegateResponse ResponseClass="Success" ` + mt + `><m:ResponseCode>NoError</m:ResponseCode><m:ResponseMessages><m:DelegateUserResponseMessageType ResponseClass="Error"><m:MessageText>x</m:MessageText><m:ResponseCode>ErrorNotDelegate</m:ResponseCode></m:DelegateUserResponseMessageType></m:ResponseMessages></m:GetDelegateResponse>`)
	ms := scanMessages([]byte(doc))
	if len(ms) != 2 || ms[0].ResponseCode != "NoError" || ms[1].ResponseCode != "ErrorNotDelegate" {
		t.Fatalf("scanMessages() = %+v", ms)
	}
	if e := callLevel(ms, "GetDelegate", "a"); e != nil {
		t.Errorf("callLevel(root ok, one delegate failed) = %v", e)
	}
	// GetUserOofSettings: ResponseMessage directly under the response.
	doc = soapEnv(`<GetUserOofSettingsResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseMessage ResponseClass="Error"><MessageText>denied</MessageText><ResponseCode>ErrorAccessDenied</ResponseCode></ResponseMessage></GetUserOofSettingsResponse>`)
	if e := callLevel(scanMessages([]byte(doc)), "GetUserOofSettings", "a"); e == nil || e.Code != "ErrorAccessDenied" {
		t.Errorf("callLevel(oof denied) = %v", e)
	}
}

func TestParseAutodiscover(t *testing.T) {
	pox := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><User><DisplayName>Anne</DisplayName></User><Account><AccountType>email</AccountType><Action>settings</Action>` +
		`<Protocol><Type>EXCH</Type><EwsUrl>https://mail.int.example.org/EWS/Exchange.asmx</EwsUrl></Protocol><Protocol><Type>EXPR</Type><EwsUrl>https://mail.example.org/EWS/Exchange.asmx</EwsUrl></Protocol></Account></Response></Autodiscover>`
	if u, _, _, err := ParsePOX([]byte(pox)); err != nil || u != "https://mail.example.org/EWS/Exchange.asmx" {
		t.Errorf("ParsePOX() = %q, %v", u, err)
	}
	redir := `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Action>redirectAddr</Action><RedirectAddr>anne@corp.example.org</RedirectAddr></Account></Response></Autodiscover>`
	if _, a, _, err := ParsePOX([]byte(redir)); err != nil || a != "anne@corp.example.org" {
		t.Errorf("ParsePOX(redirect) = %q, %v", a, err)
	}
	notFound := `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response><Error Time="16:42:44.4206970" Id="2323"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData /></Error></Response></Autodiscover>`
	if _, _, _, err := ParsePOX([]byte(notFound)); err == nil || !strings.Contains(err.Error(), "can't be found") {
		t.Errorf("ParsePOX(error) = %v", err)
	}
	soap := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Body><GetUserSettingsResponseMessage xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses><UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings><UserSetting i:type="StringSetting"><Name>InternalEwsUrl</Name><Value>https://int/EWS/Exchange.asmx</Value></UserSetting><UserSetting i:type="StringSetting"><Name>ExternalEwsUrl</Name><Value>https://ext/EWS/Exchange.asmx</Value></UserSetting></UserSettings></UserResponse></UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>`
	if u, _, _, err := ParseUserSettings([]byte(soap)); err != nil || u != "https://ext/EWS/Exchange.asmx" {
		t.Errorf("ParseUserSettings() = %q, %v", u, err)
	}
}
