package ews

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// gwEntry is one t:Entry of a contact's dictionary (EmailAddresses, PhoneNumbers,
// ImAddresses): a Key attribute and a text value (an e-mail entry also has Name).
type gwEntry struct {
	Key   string `xml:"Key,attr"`
	Name  string `xml:"Name,attr"`
	Value string `xml:",chardata"`
}

// gwPhysical is one t:Entry of PhysicalAddresses (Key Business, Home or Other).
type gwPhysical struct {
	Key             string `xml:"Key,attr"`
	Street          string `xml:"Street"`
	City            string `xml:"City"`
	State           string `xml:"State"`
	CountryOrRegion string `xml:"CountryOrRegion"`
	PostalCode      string `xml:"PostalCode"`
}

// gwContact is t:Contact (ContactItemType) as GetItem returns it with AllProperties and
// the body as text.
type gwContact struct {
	ItemID           gwItemID      `xml:"ItemId"`
	ParentFolderID   gwItemID      `xml:"ParentFolderId"`
	Body             *gwBody       `xml:"Body"`
	Attachments      gwAttachments `xml:"Attachments"`
	DateTimeCreated  string        `xml:"DateTimeCreated"`
	LastModifiedTime string        `xml:"LastModifiedTime"`
	Categories       []string      `xml:"Categories>String"`
	FileAs           string        `xml:"FileAs"`
	DisplayName      string        `xml:"DisplayName"`
	GivenName        string        `xml:"GivenName"`
	Initials         string        `xml:"Initials"`
	MiddleName       string        `xml:"MiddleName"`
	Nickname         string        `xml:"Nickname"`
	CompleteName     *struct {
		Title  string `xml:"Title"`
		Suffix string `xml:"Suffix"`
	} `xml:"CompleteName"`
	CompanyName       string       `xml:"CompanyName"`
	EmailAddresses    []gwEntry    `xml:"EmailAddresses>Entry"`
	PhysicalAddresses []gwPhysical `xml:"PhysicalAddresses>Entry"`
	PhoneNumbers      []gwEntry    `xml:"PhoneNumbers>Entry"`
	AssistantName     string       `xml:"AssistantName"`
	Birthday          string       `xml:"Birthday"`
	BusinessHomePage  string       `xml:"BusinessHomePage"`
	Children          []string     `xml:"Children>String"`
	Department        string       `xml:"Department"`
	Generation        string       `xml:"Generation"`
	ImAddresses       []gwEntry    `xml:"ImAddresses>Entry"`
	JobTitle          string       `xml:"JobTitle"`
	Manager           string       `xml:"Manager"`
	OfficeLocation    string       `xml:"OfficeLocation"`
	Profession        string       `xml:"Profession"`
	SpouseName        string       `xml:"SpouseName"`
	Surname           string       `xml:"Surname"`
	HasPicture        bool         `xml:"HasPicture"`
}

// photo is the contact's photo attachment (IsContactPhoto), if any.
func (c *gwContact) photo() (gwFileAttachment, bool) {
	for _, a := range c.Attachments.Files {
		if a.IsContactPhoto {
			return a, true
		}
	}
	return gwFileAttachment{}, false
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// keyed returns the values of the entries whose key is in keys, in that key order.
func keyed(es []gwEntry, keys ...string) []gwEntry {
	var out []gwEntry
	for _, k := range keys {
		for _, e := range es {
			if e.Key == k && strings.TrimSpace(e.Value) != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func values(es []gwEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, strings.TrimSpace(e.Value))
	}
	return out
}

func physical(ps []gwPhysical, key string) models.PhysicalAddressable {
	a := models.NewPhysicalAddress()
	for _, p := range ps {
		if p.Key == key {
			a.SetStreet(ptr(p.Street))
			a.SetCity(ptr(p.City))
			a.SetState(ptr(p.State))
			a.SetCountryOrRegion(ptr(p.CountryOrRegion))
			a.SetPostalCode(ptr(p.PostalCode))
		}
	}
	return a
}

// gwContactJSON converts a contact into Graph's contact JSON. EWS keeps more than Graph
// v1.0 shows (faxes, pager, the fourth and later phone kinds…): those are left out, as
// Graph would leave them out. PersonalNotes is the body.
func gwContactJSON(c *gwContact) ([]byte, error) {
	if c.ItemID.ID == "" {
		return nil, fmt.Errorf("contact without ItemId")
	}
	g := models.NewContact()
	g.SetId(ptr(c.ItemID.ID))
	g.SetChangeKey(ptr(c.ItemID.ChangeKey))
	g.SetParentFolderId(ptr(c.ParentFolderID.ID))
	if t, ok := parseEWSTime(c.DateTimeCreated); ok {
		g.SetCreatedDateTime(&t)
	}
	if t, ok := parseEWSTime(c.LastModifiedTime); ok {
		g.SetLastModifiedDateTime(&t)
	}
	cats := c.Categories
	if cats == nil {
		cats = []string{}
	}
	g.SetCategories(cats)
	if t, ok := parseEWSTime(c.Birthday); ok {
		// Exchange keeps a birthday at local midnight or noon (11:59 UTC for some clients):
		// the date is what counts, as midnight UTC like Graph.
		d := nearestMidnight(t)
		if t.UTC().Hour() == 11 || t.UTC().Hour() == 12 {
			d = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		g.SetBirthday(&d)
	}
	g.SetFileAs(ptr(c.FileAs))
	g.SetDisplayName(ptr(c.DisplayName))
	g.SetGivenName(optStr(c.GivenName))
	g.SetInitials(optStr(c.Initials))
	g.SetMiddleName(optStr(c.MiddleName))
	g.SetNickName(optStr(c.Nickname))
	g.SetSurname(optStr(c.Surname))
	if c.CompleteName != nil {
		g.SetTitle(optStr(c.CompleteName.Title))
	}
	g.SetGeneration(optStr(c.Generation))
	g.SetImAddresses(values(keyed(c.ImAddresses, "ImAddress1", "ImAddress2", "ImAddress3")))
	g.SetJobTitle(optStr(c.JobTitle))
	g.SetCompanyName(optStr(c.CompanyName))
	g.SetDepartment(optStr(c.Department))
	g.SetOfficeLocation(optStr(c.OfficeLocation))
	g.SetProfession(optStr(c.Profession))
	g.SetBusinessHomePage(optStr(c.BusinessHomePage))
	g.SetAssistantName(optStr(c.AssistantName))
	g.SetManager(optStr(c.Manager))
	g.SetHomePhones(values(keyed(c.PhoneNumbers, "HomePhone", "HomePhone2")))
	if m := keyed(c.PhoneNumbers, "MobilePhone"); len(m) > 0 {
		g.SetMobilePhone(ptr(strings.TrimSpace(m[0].Value)))
	}
	g.SetBusinessPhones(values(keyed(c.PhoneNumbers, "BusinessPhone", "BusinessPhone2")))
	g.SetSpouseName(optStr(c.SpouseName))
	notes := ""
	if c.Body != nil {
		notes = c.Body.Content
	}
	g.SetPersonalNotes(ptr(notes))
	children := c.Children
	if children == nil {
		children = []string{}
	}
	g.SetChildren(children)
	emails := []models.EmailAddressable{}
	es := keyed(c.EmailAddresses, "EmailAddress1", "EmailAddress2", "EmailAddress3")
	sort.SliceStable(es, func(i, j int) bool { return es[i].Key < es[j].Key })
	for _, e := range es {
		a := models.NewEmailAddress()
		a.SetName(ptr(e.Name))
		a.SetAddress(ptr(strings.TrimSpace(e.Value)))
		emails = append(emails, a)
	}
	g.SetEmailAddresses(emails)
	g.SetHomeAddress(physical(c.PhysicalAddresses, "Home"))
	g.SetBusinessAddress(physical(c.PhysicalAddresses, "Business"))
	g.SetOtherAddress(physical(c.PhysicalAddresses, "Other"))
	return graphJSON(g)
}
