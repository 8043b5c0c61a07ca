package ews

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/transform/vcard"
)

const contactXML = `<t:Contact xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
 <t:ItemId Id="AAMkContact=" ChangeKey="EQAAAB"/><t:ParentFolderId Id="AAMkContacts="/>
 <t:Body BodyType="Text">Rencontrée au salon</t:Body>
 <t:Attachments><t:FileAttachment><t:AttachmentId Id="photo1"/><t:Name>ContactPicture.jpg</t:Name><t:ContentType>image/jpeg</t:ContentType><t:IsContactPhoto>true</t:IsContactPhoto></t:FileAttachment></t:Attachments>
 <t:Categories><t:String>Clients</t:String></t:Categories>
 <t:FileAs>Dupont, Élise</t:FileAs><t:DisplayName>Élise Dupont</t:DisplayName><t:GivenName>Élise</t:GivenName><t:MiddleName>Marie</t:MiddleName><t:Nickname>Lili</t:Nickname>
 <t:CompleteName><t:Title>Dr</t:Title><t:FirstName>Élise</t:FirstName><t:LastName>Dupont</t:LastName></t:CompleteName>
 <t:CompanyName>Fabrikam, SA</t:CompanyName>
 <t:EmailAddresses><t:Entry Key="EmailAddress2" Name="Élise (perso)">elise@example.org</t:Entry><t:Entry Key="EmailAddress1" Name="Élise Dupont">elise.dupont@fabrikam.fr</t:Entry></t:EmailAddresses>
 <t:PhysicalAddresses><t:Entry Key="Business"><t:Street>12 rue de la Paix</t:Street><t:City>Paris</t:City><t:CountryOrRegion>France</t:CountryOrRegion><t:PostalCode>75002</t:PostalCode></t:Entry></t:PhysicalAddresses>
 <t:PhoneNumbers><t:Entry Key="BusinessPhone">+33 1 23 45 67 89</t:Entry><t:Entry Key="MobilePhone">+33 6 12 34 56 78</t:Entry><t:Entry Key="BusinessFax">+33 1 00 00 00 00</t:Entry><t:Entry Key="HomePhone"></t:Entry></t:PhoneNumbers>
 <t:Birthday>1984-05-10T11:59:00Z</t:Birthday>
 <t:Children><t:String>Léo</t:String></t:Children>
 <t:Department>Achats</t:Department><t:JobTitle>Directrice</t:JobTitle>
 <t:ImAddresses><t:Entry Key="ImAddress1">sip:elise@fabrikam.fr</t:Entry></t:ImAddresses>
 <t:Surname>Dupont</t:Surname><t:HasPicture>true</t:HasPicture>
</t:Contact>`

func TestContact(t *testing.T) {
	var c gwContact
	if err := xml.Unmarshal([]byte(contactXML), &c); err != nil {
		t.Fatal(err)
	}
	if p, ok := c.photo(); !ok || p.AttachmentID.ID != "photo1" {
		t.Errorf("photo = %+v %v", p, ok)
	}
	payload, err := gwContactJSON(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"birthday":"1984-05-10T00:00:00Z"`, `"businessPhones":["+33 1 23 45 67 89"]`, `"homePhones":[]`,
		`"mobilePhone":"+33 6 12 34 56 78"`, `"title":"Dr"`, `"personalNotes":"Rencontrée au salon"`, `"changeKey":"EQAAAB"`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload lacks %s:\n%s", want, payload)
		}
	}
	res, err := vcard.Contact(payload, []byte{0xff, 0xd8, 0xff, 0xe0}, vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(string(res.Data), "\r\n ", "")
	for _, want := range []string{"FN:Élise Dupont", "N:Dupont;Élise;Marie;Dr;", "BDAY:19840510", "ORG:Fabrikam\\, SA;Achats",
		"elise.dupont@fabrikam.fr", "elise@example.org", "ADR;TYPE=work:;;12 rue de la Paix;Paris;;75002;France", "PHOTO"} {
		if !strings.Contains(out, want) {
			t.Errorf("vCard lacks %q:\n%s", want, out)
		}
	}
	// The first address is EmailAddress1, whatever order EWS wrote the entries in.
	if strings.Index(out, "elise.dupont@") > strings.Index(out, "elise@example") {
		t.Errorf("e-mail order:\n%s", out)
	}
}
