package ews

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// FuzzFindItem feeds arbitrary FindItem and folder-size requests to the emulator: a
// well-formed SOAP answer, never a panic.
func FuzzFindItem(f *testing.F) {
	ten := tenant.Generate(tenant.Config{Seed: 3, Users: 2, Messages: 20, Events: 2, Contacts: 2, Tasks: 2})
	s, err := Start(Options{Tenant: ten})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	u := regular(ten)[0]
	inbox, _ := ten.Folder(u.ID, "inbox")
	for _, body := range []string{
		`<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Size"/><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="5" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsGreaterThan><t:FieldURI FieldURI="item:Size"/><t:FieldURIOrConstant><t:Constant Value="1000"/></t:FieldURIOrConstant></t:IsGreaterThan></m:Restriction><m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:Size"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:FolderId Id="` + inbox.ID + `"/><t:DistinguishedFolderId Id="sentitems"/></m:ParentFolderIds></m:FindItem>`,
		`<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="-1" Offset="-7"/><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="calendar:CalendarItemType"/><t:FieldURIOrConstant><t:Constant Value="RecurringMaster"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>`,
		`<m:FindItem Traversal="Deep"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:Restriction><t:IsGreaterThan><t:ExtendedFieldURI PropertyTag="0x0E08" PropertyType="Integer"/><t:FieldURIOrConstant><t:Constant Value="x"/></t:FieldURIOrConstant></t:IsGreaterThan><t:And/></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>`,
		`<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:TotalCount"/><t:ExtendedFieldURI PropertyTag="0x0E08" PropertyType="Long"/><t:ExtendedFieldURI PropertyTag="zz" PropertyType=""/></t:AdditionalProperties></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>`,
	} {
		f.Add(envelope(body, ""))
	}
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

// TestFindItemLargestFirst: the size restriction and sort give every message over the
// threshold, largest first, and TotalItemsInView counts them all.
func TestFindItemLargestFirst(t *testing.T) {
	ten := tenant.Generate(tenant.Config{Seed: 3, Users: 2, Messages: 200})
	s, err := Start(Options{Tenant: ten})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := regular(ten)[0]
	inbox, _ := ten.Folder(u.ID, "inbox")
	var want int
	for _, m := range ten.Messages(u.ID) {
		if m.FolderID == inbox.ID && m.Size > 4000 {
			want++
		}
	}
	body := `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Size"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="3" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsGreaterThan><t:FieldURI FieldURI="item:Size"/><t:FieldURIOrConstant><t:Constant Value="4000"/></t:FieldURIOrConstant></t:IsGreaterThan></m:Restriction><m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:Size"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:FolderId Id="` + inbox.ID + `"/></m:ParentFolderIds></m:FindItem>`
	req := httptest.NewRequest(http.MethodPost, "/EWS/Exchange.asmx", strings.NewReader(envelope(body, "")))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.UPN+":"+DefaultPassword(u))))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	out := rec.Body.String()
	if want < 4 || !strings.Contains(out, `TotalItemsInView="`+strconv.Itoa(want)+`"`) || strings.Count(out, "<t:Message>") != 3 {
		t.Fatalf("want %d messages over 4,000 bytes, 3 listed; got:\n%s", want, out)
	}
	var sizes []int
	for _, part := range strings.Split(out, "<t:Size>")[1:] {
		sizes = append(sizes, atoiPrefix(part))
	}
	if len(sizes) != 3 || sizes[0] < sizes[1] || sizes[1] < sizes[2] || sizes[2] <= 4000 {
		t.Errorf("sizes %v: want 3 over 4,000, largest first", sizes)
	}
}

func atoiPrefix(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
