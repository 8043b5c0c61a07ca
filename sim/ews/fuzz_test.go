package ews

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// FuzzEWSRequest feeds arbitrary request bodies to the dispatcher: the answer is always a
// well-formed SOAP envelope (200 or a 500 fault), never a panic (turned into
// ErrorInternalServerError by safeCall, which the test counts as a failure).
func FuzzEWSRequest(f *testing.F) {
	ten := tenant.Generate(tenant.Config{Seed: 3, Users: 2, Messages: 20, Events: 2, Contacts: 2, Tasks: 2})
	s, err := Start(Options{Tenant: ten})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	u := regular(ten)[0]
	inbox, _ := ten.Folder(u.ID, "inbox")
	msg := ten.Messages(u.ID)[0]
	for _, body := range []string{
		inboxReq,
		syncReq("IdOnly", inbox.ID, "", 5),
		syncReq("Default", inbox.ID, "H4sIAAAAAAAEAOgarbage", 512),
		`<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="` + msg.ID + `"/><t:OccurrenceItemId RecurringMasterId="x" InstanceIndex="-1"/></m:ItemIds></m:GetItem>`,
		`<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned="-3" Offset="99999" BasePoint="End"/><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>`,
		`<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:SyncFolderId><t:FolderId Id=""/></m:SyncFolderId></m:SyncFolderHierarchy>`,
		`<m:GetFolder><m:FolderShape/><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>x</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>`,
	} {
		f.Add(envelope(body, ""))
		f.Add(envelope(body, "svc@nowhere"))
	}
	f.Add(`<soap:Envelope xmlns:soap="x"><soap:Body>`)
	f.Add(`<a><b/></a>`)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(u.UPN+":"+DefaultPassword(u)))
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/EWS/Exchange.asmx", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 500 {
			t.Fatalf("status %d", rec.Code)
		}
		out := rec.Body.String()
		if _, err := parseNode(out); err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, out)
		}
		if strings.Contains(out, "ErrorInternalServerError") {
			t.Fatalf("internal error (a panic or an unexpected error) for %q", body)
		}
	})
}

// FuzzNTLMAuthenticate: arbitrary AUTHENTICATE messages never panic and never verify.
func FuzzNTLMAuthenticate(f *testing.F) {
	chal, c := ntlmChallenge("CONTOSO", "contoso.example")
	f.Add(chal)
	f.Add(append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), make([]byte, 80)...))
	f.Add([]byte("NTLMSSP\x00\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := parseNTLMAuth(msg)
		if err != nil {
			return
		}
		if verifyNTLMv2(a, "Pa55-word!", c) {
			t.Fatalf("a fuzzed message verified: %+v", a)
		}
	})
}
