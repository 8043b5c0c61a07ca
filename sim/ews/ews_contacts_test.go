package ews

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func TestContacts(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	var photos, emails, addresses int
	for _, k := range ten.Contacts(u.ID, "") {
		x := c.mustOK(getItemBody(k.ID)).first("Contact")
		if x.kid("ItemId").Attr["Id"] != k.ID || x.kid("ItemId").Attr["ChangeKey"] != k.ChangeKey || x.kid("ParentFolderId").Attr["Id"] != k.FolderID {
			t.Errorf("%s: ids %s", k.DisplayName, x.dump())
		}
		for elem, want := range map[string]string{"GivenName": k.GivenName, "Surname": k.Surname, "MiddleName": k.MiddleName,
			"Nickname": k.NickName, "DisplayName": k.DisplayName, "FileAs": k.FileAs, "CompanyName": k.CompanyName,
			"Department": k.Department, "JobTitle": k.JobTitle, "Generation": k.Generation, "Manager": k.Manager,
			"AssistantName": k.AssistantName, "OfficeLocation": k.OfficeLocation, "BusinessHomePage": k.BusinessHomePage,
			"SpouseName": k.SpouseName, "Profession": k.Profession, "Initials": k.Initials} {
			if got := x.kid(elem).Text; got != want {
				t.Errorf("%s: %s = %q, want %q", k.DisplayName, elem, got, want)
			}
		}
		if x.kid("CompleteName").kid("Title").Text != k.Title {
			t.Errorf("%s: CompleteName/Title %q, want %q", k.DisplayName, x.kid("CompleteName").kid("Title").Text, k.Title)
		}
		if b := x.kid("Body"); b.Text != k.PersonalNotes || b.Attr["BodyType"] != "Text" {
			t.Errorf("%s: Body %v %q, want %q", k.DisplayName, b.Attr, b.Text, k.PersonalNotes)
		}
		if !k.Birthday.IsZero() && !parseUTC(t, x.kid("Birthday").Text).Equal(k.Birthday) {
			t.Errorf("%s: Birthday %q, want %s", k.DisplayName, x.kid("Birthday").Text, k.Birthday)
		}
		var gotMails []string
		for i, e := range x.kid("EmailAddresses").all("Entry") {
			if e.Attr["Key"] != "EmailAddress"+itoa(i+1) {
				t.Errorf("%s: email key %q", k.DisplayName, e.Attr["Key"])
			}
			gotMails = append(gotMails, e.Attr["Name"]+"<"+e.Text+">")
		}
		var wantMails []string
		for _, e := range k.Emails {
			wantMails = append(wantMails, e.Name+"<"+e.Address+">")
		}
		if !slices.Equal(gotMails, wantMails) {
			t.Errorf("%s: emails %v, want %v", k.DisplayName, gotMails, wantMails)
		}
		emails += len(gotMails)
		phones := map[string]string{}
		for _, p := range x.kid("PhoneNumbers").all("Entry") {
			phones[p.Attr["Key"]] = p.Text
		}
		want := map[string]string{}
		for i, p := range k.BusinessPhones {
			want[[]string{"BusinessPhone", "BusinessPhone2"}[i]] = p
		}
		for i, p := range k.HomePhones {
			want[[]string{"HomePhone", "HomePhone2"}[i]] = p
		}
		if k.MobilePhone != "" {
			want["MobilePhone"] = k.MobilePhone
		}
		if len(phones) != len(want) {
			t.Errorf("%s: phones %v, want %v", k.DisplayName, phones, want)
		}
		for key, v := range want {
			if phones[key] != v {
				t.Errorf("%s: phone %s = %q, want %q", k.DisplayName, key, phones[key], v)
			}
		}
		for _, pa := range x.kid("PhysicalAddresses").all("Entry") {
			var a tenant.PostalAddress
			switch pa.Attr["Key"] {
			case "Business":
				a = k.BusinessAddress
			case "Home":
				a = k.HomeAddress
			case "Other":
				a = k.OtherAddress
			}
			got := tenant.PostalAddress{Street: pa.kid("Street").Text, City: pa.kid("City").Text, State: pa.kid("State").Text,
				PostalCode: pa.kid("PostalCode").Text, Country: pa.kid("CountryOrRegion").Text}
			if got != a || a == (tenant.PostalAddress{}) {
				t.Errorf("%s: %s address %+v, want %+v", k.DisplayName, pa.Attr["Key"], got, a)
			}
			addresses++
		}
		var ims, kids, cats []string
		for _, e := range x.kid("ImAddresses").all("Entry") {
			ims = append(ims, e.Text)
		}
		for _, e := range x.kid("Children").all("String") {
			kids = append(kids, e.Text)
		}
		for _, e := range x.kid("Categories").all("String") {
			cats = append(cats, e.Text)
		}
		if !slices.Equal(ims, k.IMAddresses) || !slices.Equal(kids, k.Children) || (len(cats)+len(k.Categories) > 0 && !slices.Equal(cats, k.Categories)) {
			t.Errorf("%s: IM %v children %v categories %v, want %v %v %v", k.DisplayName, ims, kids, cats, k.IMAddresses, k.Children, k.Categories)
		}
		// The photo: HasPicture, a contact-photo attachment, its bytes through GetAttachment.
		fa := x.kid("Attachments").all("FileAttachment")
		if (x.kid("HasPicture").Text == "true") != (k.Photo != nil) || len(fa) != map[bool]int{true: 1}[k.Photo != nil] {
			t.Errorf("%s: HasPicture %q with %d attachments, photo %d bytes", k.DisplayName, x.kid("HasPicture").Text, len(fa), len(k.Photo))
			continue
		}
		if k.Photo == nil {
			continue
		}
		if fa[0].kid("IsContactPhoto").Text != "true" || fa[0].kid("Content").Name != "" {
			t.Errorf("%s: photo attachment %s", k.DisplayName, x.dump())
		}
		g := c.mustOK(`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="` + esc(fa[0].kid("AttachmentId").Attr["Id"]) + `"/></m:AttachmentIds></m:GetAttachment>`)
		raw, err := base64.StdEncoding.DecodeString(g.first("Content").Text)
		if err != nil || string(raw) != string(k.Photo) || g.first("IsContactPhoto").Text != "true" {
			t.Errorf("%s: photo through GetAttachment differs (%d bytes, err %v)", k.DisplayName, len(raw), err)
		}
		photos++
	}
	if photos == 0 || emails == 0 || addresses == 0 {
		t.Errorf("the tenant's contacts should have photos, addresses and emails: %d %d %d", photos, addresses, emails)
	}
	// An attachment id that does not exist, and one that cannot be read.
	st, n := c.call(`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="AAMkAnope.photo"/><t:AttachmentId Id="garbage"/></m:AttachmentIds></m:GetAttachment>`)
	codes := n.all("ResponseCode")
	if st != 200 || len(codes) != 2 || codes[0].Text != "ErrorItemNotFound" || codes[1].Text != "ErrorInvalidIdMalformed" {
		t.Errorf("bad attachment ids answered %d %s", st, n.dump())
	}
}
