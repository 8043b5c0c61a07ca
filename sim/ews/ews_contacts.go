package ews

// Contacts: the tenant's contacts as EWS Contact elements (ItemType then ContactItemType
// of types.xsd, Exchange 2016 order). The contact folders are IPF.Contact folders (the
// default one is the distinguished "contacts").
//
// Shapes: EmailAddresses/Entry Key EmailAddress1..3 (Name attribute: the display name Graph
// shows with the address); PhoneNumbers/Entry Key BusinessPhone, BusinessPhone2, HomePhone,
// HomePhone2, MobilePhone; PhysicalAddresses/Entry Key Business, Home, Other;
// ImAddresses/Entry Key ImAddress1..3; Birthday is the instant Graph shows; the notes are
// the item's Body (Text). A contact with a photo has HasPicture true and a FileAttachment
// named ContactPicture.jpg with IsContactPhoto true (AttachmentId "<contact id>.photo");
// GetAttachment returns its Content.

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// contactPhotoID is the attachment id part of a contact's photo.
const contactPhotoID = "photo"

type gwCompleteName struct {
	Title      string `xml:"t:Title,omitempty"`
	FirstName  string `xml:"t:FirstName,omitempty"`
	MiddleName string `xml:"t:MiddleName,omitempty"`
	LastName   string `xml:"t:LastName,omitempty"`
	Suffix     string `xml:"t:Suffix,omitempty"`
	Initials   string `xml:"t:Initials,omitempty"`
	FullName   string `xml:"t:FullName,omitempty"`
	Nickname   string `xml:"t:Nickname,omitempty"`
}

type gwEntry struct {
	Key         string `xml:"Key,attr"`
	Name        string `xml:"Name,attr,omitempty"`
	RoutingType string `xml:"RoutingType,attr,omitempty"`
	Value       string `xml:",chardata"`
}

type gwEntries struct {
	E []gwEntry `xml:"t:Entry"`
}

type gwPhysicalEntry struct {
	Key        string `xml:"Key,attr"`
	Street     string `xml:"t:Street,omitempty"`
	City       string `xml:"t:City,omitempty"`
	State      string `xml:"t:State,omitempty"`
	Country    string `xml:"t:CountryOrRegion,omitempty"`
	PostalCode string `xml:"t:PostalCode,omitempty"`
}

type gwPhysicalEntries struct {
	E []gwPhysicalEntry `xml:"t:Entry"`
}

// gwContact is t:Contact, elements in schema order.
type gwContact struct {
	XMLName          xml.Name       `xml:"t:Contact"`
	ItemID           gwID           `xml:"t:ItemId"`
	ParentFolderID   *gwID          `xml:"t:ParentFolderId"`
	ItemClass        string         `xml:"t:ItemClass"`
	Subject          string         `xml:"t:Subject"`
	Sensitivity      string         `xml:"t:Sensitivity"`
	Body             *gwBody        `xml:"t:Body"`
	Attachments      *gwAttachments `xml:"t:Attachments"`
	DateTimeReceived string         `xml:"t:DateTimeReceived,omitempty"`
	Size             int64          `xml:"t:Size"`
	Categories       *gwStrings     `xml:"t:Categories"`
	Importance       string         `xml:"t:Importance"`
	DateTimeCreated  string         `xml:"t:DateTimeCreated,omitempty"`
	HasAttachments   bool           `xml:"t:HasAttachments"`
	LastModifiedTime string         `xml:"t:LastModifiedTime,omitempty"`

	FileAs            string             `xml:"t:FileAs,omitempty"`
	FileAsMapping     string             `xml:"t:FileAsMapping,omitempty"`
	DisplayName       string             `xml:"t:DisplayName,omitempty"`
	GivenName         string             `xml:"t:GivenName,omitempty"`
	Initials          string             `xml:"t:Initials,omitempty"`
	MiddleName        string             `xml:"t:MiddleName,omitempty"`
	Nickname          string             `xml:"t:Nickname,omitempty"`
	CompleteName      *gwCompleteName    `xml:"t:CompleteName"`
	CompanyName       string             `xml:"t:CompanyName,omitempty"`
	EmailAddresses    *gwEntries         `xml:"t:EmailAddresses"`
	PhysicalAddresses *gwPhysicalEntries `xml:"t:PhysicalAddresses"`
	PhoneNumbers      *gwEntries         `xml:"t:PhoneNumbers"`
	AssistantName     string             `xml:"t:AssistantName,omitempty"`
	Birthday          string             `xml:"t:Birthday,omitempty"`
	BusinessHomePage  string             `xml:"t:BusinessHomePage,omitempty"`
	Children          *gwStrings         `xml:"t:Children"`
	Department        string             `xml:"t:Department,omitempty"`
	Generation        string             `xml:"t:Generation,omitempty"`
	ImAddresses       *gwEntries         `xml:"t:ImAddresses"`
	JobTitle          string             `xml:"t:JobTitle,omitempty"`
	Manager           string             `xml:"t:Manager,omitempty"`
	OfficeLocation    string             `xml:"t:OfficeLocation,omitempty"`
	Profession        string             `xml:"t:Profession,omitempty"`
	SpouseName        string             `xml:"t:SpouseName,omitempty"`
	Surname           string             `xml:"t:Surname,omitempty"`
	HasPicture        bool               `xml:"t:HasPicture"`
}

func physical(key string, a tenant.PostalAddress) (gwPhysicalEntry, bool) {
	if a == (tenant.PostalAddress{}) {
		return gwPhysicalEntry{}, false
	}
	return gwPhysicalEntry{Key: key, Street: a.Street, City: a.City, State: a.State, Country: a.Country, PostalCode: a.PostalCode}, true
}

func photoAttachment(c tenant.Contact, withContent bool) gwFileAttachment {
	yes := true
	a := gwFileAttachment{AttachmentID: gwAttachmentID{ID: attachmentID(c.ID, contactPhotoID), RootItemID: c.ID},
		Name: "ContactPicture.jpg", ContentType: "image/jpeg", Size: int64(len(c.Photo)), LastModified: ewsTime(c.Modified),
		IsContactPhoto: &yes}
	if withContent {
		a.AttachmentID.RootItemCKey = c.ChangeKey
		a.Content = base64.StdEncoding.EncodeToString(c.Photo)
	}
	return a
}

// contactXML converts a contact.
func contactXML(c tenant.Contact) *gwContact {
	x := &gwContact{
		ItemID: gwID{c.ID, c.ChangeKey}, ParentFolderID: &gwID{ID: c.FolderID}, ItemClass: "IPM.Contact",
		Subject: c.FileAs, Sensitivity: "Normal", Body: &gwBody{Type: "Text", Text: c.PersonalNotes},
		DateTimeReceived: ewsTime(c.Created), Size: int64(1024 + len(c.PersonalNotes) + len(c.Photo)),
		Categories: gwStringList(c.Categories), Importance: "Normal", DateTimeCreated: ewsTime(c.Created),
		HasAttachments: false, LastModifiedTime: ewsTime(c.Modified),
		FileAs: c.FileAs, DisplayName: c.DisplayName, GivenName: c.GivenName, Initials: c.Initials,
		MiddleName: c.MiddleName, Nickname: c.NickName, CompanyName: c.CompanyName,
		AssistantName: c.AssistantName, BusinessHomePage: c.BusinessHomePage, Children: gwStringList(c.Children),
		Department: c.Department, Generation: c.Generation, JobTitle: c.JobTitle, Manager: c.Manager,
		OfficeLocation: c.OfficeLocation, Profession: c.Profession, SpouseName: c.SpouseName, Surname: c.Surname,
		HasPicture: c.Photo != nil,
		CompleteName: &gwCompleteName{Title: c.Title, FirstName: c.GivenName, MiddleName: c.MiddleName, LastName: c.Surname,
			Suffix: c.Generation, Initials: c.Initials, FullName: c.DisplayName, Nickname: c.NickName},
	}
	if c.FileAs == "" {
		x.Subject = c.DisplayName
	}
	if !c.Birthday.IsZero() {
		x.Birthday = ewsTime(c.Birthday)
	}
	if c.Photo != nil {
		x.HasAttachments = true
		x.Attachments = &gwAttachments{Files: []gwFileAttachment{photoAttachment(c, false)}}
	}
	if len(c.Emails) > 0 {
		x.EmailAddresses = &gwEntries{}
		for i, e := range c.Emails[:min(3, len(c.Emails))] {
			x.EmailAddresses.E = append(x.EmailAddresses.E, gwEntry{Key: fmt.Sprintf("EmailAddress%d", i+1), Name: e.Name, Value: e.Address})
		}
	}
	var phys []gwPhysicalEntry
	for _, p := range []struct {
		key string
		a   tenant.PostalAddress
	}{{"Business", c.BusinessAddress}, {"Home", c.HomeAddress}, {"Other", c.OtherAddress}} {
		if e, ok := physical(p.key, p.a); ok {
			phys = append(phys, e)
		}
	}
	if len(phys) > 0 {
		x.PhysicalAddresses = &gwPhysicalEntries{E: phys}
	}
	var phones []gwEntry
	for i, p := range c.BusinessPhones[:min(2, len(c.BusinessPhones))] {
		phones = append(phones, gwEntry{Key: []string{"BusinessPhone", "BusinessPhone2"}[i], Value: p})
	}
	for i, p := range c.HomePhones[:min(2, len(c.HomePhones))] {
		phones = append(phones, gwEntry{Key: []string{"HomePhone", "HomePhone2"}[i], Value: p})
	}
	if c.MobilePhone != "" {
		phones = append(phones, gwEntry{Key: "MobilePhone", Value: c.MobilePhone})
	}
	if len(phones) > 0 {
		x.PhoneNumbers = &gwEntries{E: phones}
	}
	if len(c.IMAddresses) > 0 {
		x.ImAddresses = &gwEntries{}
		for i, a := range c.IMAddresses[:min(3, len(c.IMAddresses))] {
			x.ImAddresses.E = append(x.ImAddresses.E, gwEntry{Key: fmt.Sprintf("ImAddress%d", i+1), Value: a})
		}
	}
	return x
}

// contactItems lists the contacts of a contact folder for SyncFolderItems.
func contactItems(ten *tenant.Tenant, userID, folderID string) []gwItemRef {
	var out []gwItemRef
	for _, c := range ten.Contacts(userID, folderID) {
		out = append(out, gwItemRef{ID: c.ID, ChangeKey: c.ChangeKey, Kind: "Contact", Seq: c.Seq})
	}
	return out
}

// getContact renders contact id of user, or an error wrapping model.ErrNotFound.
func getContact(ten *tenant.Tenant, u tenant.User, id string) (any, error) {
	c, err := ten.Contact(u.ID, id)
	if err != nil {
		return nil, err
	}
	return contactXML(c), nil
}

// getContactPhoto returns the photo attachment of contact id with its Content.
func getContactPhoto(ten *tenant.Tenant, u tenant.User, id string) (*gwFileAttachment, error) {
	c, err := ten.Contact(u.ID, id)
	if err != nil {
		return nil, err
	}
	if c.Photo == nil {
		return nil, fmt.Errorf("ews: contact %s has no photo: %w", id, model.ErrNotFound)
	}
	a := photoAttachment(c, true)
	return &a, nil
}
