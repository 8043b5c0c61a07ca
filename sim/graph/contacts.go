package graph

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// serveContacts serves contact folders and contacts. As Graph v1.0 does, /contactFolders
// lists the folders under the default "Contacts" folder (not the default folder itself,
// which "contacts" names and whose contacts /users/{id}/contacts lists).
func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	base := "users('" + u.ID + "')"
	folders := s.ten.ContactFolders(u.ID)
	var f tenant.ContactFolder
	if rt.coll != "" || rt.class == "contacts" || rt.class == "contacts.delta" {
		var err error
		if f, err = s.ten.ContactFolder(u.ID, rt.coll); err != nil {
			s.notFound(w, r)
			return
		}
	}
	children := func(parent string) []tenant.ContactFolder {
		var out []tenant.ContactFolder
		for _, c := range folders {
			if c.ParentID == parent {
				out = append(out, c)
			}
		}
		return out
	}
	switch rt.class {
	case "contactFolders", "contactFolders.childFolders":
		parent := f.ID
		if rt.class == "contactFolders" {
			def, _ := s.ten.ContactFolder(u.ID, "contacts")
			parent = def.ID
		}
		list := children(parent)
		s.page(w, r, q, base+"/contactFolders", len(list), 10, func(i int) map[string]any { return s.selectFields(contactFolderJSON(list[i]), q) })
	case "contactFolders.delta":
		s.gwDelta(w, r, q, "contactFolders|"+u.ID, "#microsoft.graph.contactFolder", "Collection(contactFolder)",
			func(*gwState) bool { return true },
			func(*gwState) []gwItem {
				var items []gwItem
				for _, c := range s.ten.ContactFolders(u.ID) {
					items = append(items, gwItem{id: c.ID, version: strconv.FormatUint(c.Seq, 10), obj: func() map[string]any { return contactFolderJSON(c) }})
				}
				return items
			})
	case "contactFolder":
		obj := s.selectFields(contactFolderJSON(f), q)
		obj["@odata.context"] = s.context(base + "/contactFolders/$entity")
		s.writeJSON(w, r, http.StatusOK, obj)
	case "contacts":
		list := s.ten.Contacts(u.ID, f.ID)
		s.page(w, r, q, base+"/contacts", len(list), 10, func(i int) map[string]any { return s.selectFields(contactJSON(list[i]), q) })
	case "contacts.delta":
		s.gwDelta(w, r, q, "contacts|"+u.ID+"|"+f.ID, "#microsoft.graph.contact", "Collection(contact)",
			func(*gwState) bool { return true },
			func(*gwState) []gwItem {
				var items []gwItem
				for _, c := range s.ten.Contacts(u.ID, f.ID) {
					items = append(items, gwItem{id: c.ID, version: c.ChangeKey, obj: func() map[string]any { return contactJSON(c) }})
				}
				return items
			})
	default:
		c, err := s.ten.Contact(u.ID, rt.item)
		if err != nil || (rt.coll != "" && c.FolderID != f.ID) {
			s.notFound(w, r)
			return
		}
		switch rt.class {
		case "contact":
			obj := s.selectFields(contactJSON(c), q)
			obj["@odata.context"] = s.context(base + "/contacts/$entity")
			s.writeJSON(w, r, http.StatusOK, obj)
		case "contact.photo", "contact.photo.value":
			if c.Photo == nil {
				s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The photo wasn't found.")
				return
			}
			if rt.class == "contact.photo" {
				s.writeJSON(w, r, http.StatusOK, map[string]any{"@odata.context": s.context(base + "/contacts('" + c.ID + "')/photo/$entity"),
					"@odata.mediaContentType": "image/jpeg", "@odata.mediaEtag": etag(c.ChangeKey), "id": "48X48", "width": 48, "height": 48})
				return
			}
			s.stamp(w, r)
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Length", strconv.Itoa(len(c.Photo)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(c.Photo)
		}
	}
}

func contactFolderJSON(f tenant.ContactFolder) map[string]any {
	return map[string]any{"id": f.ID, "parentFolderId": f.ParentID, "displayName": f.DisplayName}
}

func postal(a tenant.PostalAddress) map[string]any {
	if a == (tenant.PostalAddress{}) {
		return map[string]any{}
	}
	return map[string]any{"street": a.Street, "city": a.City, "state": a.State, "countryOrRegion": a.Country, "postalCode": a.PostalCode}
}

func contactJSON(c tenant.Contact) map[string]any {
	emails := []any{}
	for _, e := range c.Emails {
		emails = append(emails, map[string]any{"name": e.Name, "address": e.Address})
	}
	var birthday any
	if !c.Birthday.IsZero() {
		birthday = c.Birthday.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"@odata.etag": etag(c.ChangeKey), "id": c.ID, "createdDateTime": isoTime(c.Created), "lastModifiedDateTime": isoTime(c.Modified),
		"changeKey": c.ChangeKey, "categories": nonNilStr(c.Categories), "parentFolderId": c.FolderID, "birthday": birthday,
		"fileAs": c.FileAs, "displayName": c.DisplayName, "givenName": nilIfEmpty(c.GivenName), "initials": nilIfEmpty(c.Initials),
		"middleName": nilIfEmpty(c.MiddleName), "nickName": nilIfEmpty(c.NickName), "surname": nilIfEmpty(c.Surname),
		"title": nilIfEmpty(c.Title), "yomiGivenName": nil, "yomiSurname": nil, "yomiCompanyName": nil,
		"generation": nilIfEmpty(c.Generation), "imAddresses": nonNilStr(c.IMAddresses), "jobTitle": nilIfEmpty(c.JobTitle),
		"companyName": nilIfEmpty(c.CompanyName), "department": nilIfEmpty(c.Department), "officeLocation": nilIfEmpty(c.OfficeLocation),
		"profession": nilIfEmpty(c.Profession), "businessHomePage": nilIfEmpty(c.BusinessHomePage), "assistantName": nilIfEmpty(c.AssistantName),
		"manager": nilIfEmpty(c.Manager), "homePhones": nonNilStr(c.HomePhones), "mobilePhone": nilIfEmpty(c.MobilePhone),
		"businessPhones": nonNilStr(c.BusinessPhones), "spouseName": nilIfEmpty(c.SpouseName), "personalNotes": c.PersonalNotes,
		"children": nonNilStr(c.Children), "emailAddresses": emails,
		"homeAddress": postal(c.HomeAddress), "businessAddress": postal(c.BusinessAddress), "otherAddress": postal(c.OtherAddress),
	}
}
