package ews

// Settings: delegates (GetDelegate), folder permissions (GetFolder with
// folder:PermissionSet), out-of-office (GetUserOofSettings) and inbox rules
// (GetInboxRules), from the same tenant truth sim/graph and the Exchange CSV exports serve.
//
//   - Folder permissions come from the tenant's Exchange folder rows
//     (tenant.ExchangePermissions, Kind Folder: what Get-MailboxFolderPermission shows and
//     the CSV exports carry, Default and Anonymous included), matched to a folder by its
//     display path. Mail, contacts and tasks folders answer PermissionSet/Permissions/
//     Permission; calendars answer CalendarPermissionSet/CalendarPermissions/
//     CalendarPermission, whose levels add FreeBusyTimeOnly (AvailabilityOnly) and
//     FreeBusyTimeAndSubjectAndLocation (LimitedDetails). UserId is DistinguishedUser
//     Default/Anonymous, else SID (when known), PrimarySmtpAddress and DisplayName (a group
//     by its address, an external user by its address). A role is PermissionLevel with the
//     individual rights it stands for; a custom set of rights is PermissionLevel Custom with
//     those rights. EWS spells NonEditingAuthor "NoneditingAuthor".
//   - Delegates are the users whose calendar folder row carries the Delegate sharing flag:
//     CalendarFolderPermissionLevel is their calendar role, Inbox/Contacts/Tasks levels their
//     roles on those folders (Editor, Reviewer, Author, None, else Custom),
//     ViewPrivateItems the CanViewPrivateItems flag; ReceiveCopiesOfMeetingMessages true;
//     DeliverMeetingRequests DelegatesAndSendInformationToMe (Outlook's default).
//     FullAccess, SendAs and SendOnBehalf have no EWS form (the CSV exports carry them).
//   - GetUserOofSettings answers the documented odd shape (ResponseMessage without a
//     ResponseMessages wrapper, OofSettings in the types namespace, AllowExternalOof),
//     written with default namespaces as the documentation's example is. Status: disabled →
//     Disabled, alwaysEnabled → Enabled, scheduled → Scheduled; ExternalAudience none → None,
//     contactsOnly → Known, all → All; Duration StartTime/EndTime are UTC without a zone
//     designator, as in the documentation; the replies are the stored HTML.
//   - GetInboxRules converts each Graph messageRule payload: sequence → Priority, hasError
//     → IsInError, predicates and actions to their EWS names (see predicatesXML and
//     actionsXML); isReadOnly has no EWS form. Folder ids are the tenant's folder ids.
//     WithinSizeRange sizes are in kilobytes, as Graph's are (MS-OXWSRULES 2.2.4.3; the
//     web-service-reference page of MinimumSize says bytes, the protocol spec rules).

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// ---- folder permissions ----

type gwUserID struct {
	SID                string `xml:"t:SID,omitempty"`
	PrimarySmtpAddress string `xml:"t:PrimarySmtpAddress,omitempty"`
	DisplayName        string `xml:"t:DisplayName,omitempty"`
	DistinguishedUser  string `xml:"t:DistinguishedUser,omitempty"`
}

// gwPermission is t:Permission or t:CalendarPermission (XMLName set by the caller).
type gwPermission struct {
	XMLName             xml.Name
	UserID              gwUserID `xml:"t:UserId"`
	CanCreateItems      bool     `xml:"t:CanCreateItems"`
	CanCreateSubFolders bool     `xml:"t:CanCreateSubFolders"`
	IsFolderOwner       bool     `xml:"t:IsFolderOwner"`
	IsFolderVisible     bool     `xml:"t:IsFolderVisible"`
	IsFolderContact     bool     `xml:"t:IsFolderContact"`
	EditItems           string   `xml:"t:EditItems"`
	DeleteItems         string   `xml:"t:DeleteItems"`
	ReadItems           string   `xml:"t:ReadItems"`
	PermissionLevel     string   `xml:"t:PermissionLevel,omitempty"`
	CalendarLevel       string   `xml:"t:CalendarPermissionLevel,omitempty"`
}

// rights is what a folder role stands for (Exchange's role table).
type rights struct {
	create, subfolders, owner, visible, contact bool
	edit, del, read                             string
}

var roleRights = map[string]rights{
	"None":             {edit: "None", del: "None", read: "None"},
	"Owner":            {true, true, true, true, true, "All", "All", "FullDetails"},
	"PublishingEditor": {true, true, false, true, false, "All", "All", "FullDetails"},
	"Editor":           {true, false, false, true, false, "All", "All", "FullDetails"},
	"PublishingAuthor": {true, true, false, true, false, "Owned", "Owned", "FullDetails"},
	"Author":           {true, false, false, true, false, "Owned", "Owned", "FullDetails"},
	"NonEditingAuthor": {true, false, false, true, false, "None", "Owned", "FullDetails"},
	"Reviewer":         {false, false, false, true, false, "None", "None", "FullDetails"},
	"Contributor":      {true, false, false, true, false, "None", "None", "None"},
	"AvailabilityOnly": {edit: "None", del: "None", read: "TimeOnly"},
	"LimitedDetails":   {edit: "None", del: "None", read: "TimeAndSubjectAndLocation"},
}

// ewsLevel names an Exchange folder role as EWS does.
func ewsLevel(role string, calendar bool) string {
	switch role {
	case "NonEditingAuthor":
		return "NoneditingAuthor"
	case "AvailabilityOnly":
		if calendar {
			return "FreeBusyTimeOnly"
		}
		return "None"
	case "LimitedDetails":
		if calendar {
			return "FreeBusyTimeAndSubjectAndLocation"
		}
		return "None"
	case "":
		return "Custom"
	}
	if _, ok := roleRights[role]; ok {
		return role
	}
	return "Custom"
}

// customRights reads a list of individual Exchange rights.
func customRights(list []string) rights {
	r := rights{edit: "None", del: "None", read: "None"}
	for _, x := range list {
		switch x {
		case "CreateItems":
			r.create = true
		case "CreateSubfolders":
			r.subfolders = true
		case "FolderOwner":
			r.owner = true
		case "FolderVisible":
			r.visible = true
		case "FolderContact":
			r.contact = true
		case "ReadItems":
			r.read = "FullDetails"
		case "EditOwnedItems":
			if r.edit == "None" {
				r.edit = "Owned"
			}
		case "EditAllItems":
			r.edit = "All"
		case "DeleteOwnedItems":
			if r.del == "None" {
				r.del = "Owned"
			}
		case "DeleteAllItems":
			r.del = "All"
		}
	}
	return r
}

func userIDOf(p tenant.Principal) gwUserID {
	switch p.Kind {
	case tenant.PrincipalDefault:
		return gwUserID{DistinguishedUser: "Default"}
	case tenant.PrincipalAnonymous:
		return gwUserID{DistinguishedUser: "Anonymous"}
	case tenant.PrincipalSID:
		return gwUserID{SID: p.SID}
	}
	return gwUserID{PrimarySmtpAddress: p.Address, DisplayName: cmpOr(p.DisplayName, p.Address)}
}

func permissionXML(p tenant.ExchangePermission, calendar bool) gwPermission {
	level := ewsLevel(p.Role, calendar)
	var r rights
	if len(p.Rights) > 0 || level == "Custom" {
		r, level = customRights(p.Rights), "Custom"
	} else {
		r = roleRights[p.Role]
		if !calendar && (p.Role == "AvailabilityOnly" || p.Role == "LimitedDetails") {
			r = roleRights["None"]
		}
	}
	x := gwPermission{UserID: userIDOf(p.Grantee), CanCreateItems: r.create, CanCreateSubFolders: r.subfolders,
		IsFolderOwner: r.owner, IsFolderVisible: r.visible, IsFolderContact: r.contact,
		EditItems: r.edit, DeleteItems: r.del, ReadItems: r.read}
	if calendar {
		x.XMLName = xml.Name{Local: "t:CalendarPermission"}
		x.CalendarLevel = level
	} else {
		x.XMLName = xml.Name{Local: "t:Permission"}
		if x.ReadItems != "None" && x.ReadItems != "FullDetails" {
			x.ReadItems = "None"
		}
		x.PermissionLevel = level
	}
	return x
}

// folderPath returns the display path of folder f in tree (the top-level folder first).
func folderPath(tree []efolder, f efolder) []string {
	byID := map[string]efolder{}
	for _, x := range tree {
		byID[x.ID] = x
	}
	var parts []string
	for cur, ok := f, true; ok && cur.Distinguished != "msgfolderroot" && cur.Distinguished != "root"; cur, ok = byID[cur.ParentID] {
		parts = append(parts, cur.Name)
		if len(parts) > len(tree) {
			break
		}
	}
	slices.Reverse(parts)
	return parts
}

// folderPermissions returns the Exchange folder rows of folder f of mailbox u.
func folderPermissions(ten *tenant.Tenant, u tenant.User, tree []efolder, f efolder) []tenant.ExchangePermission {
	path := folderPath(tree, f)
	class := tenant.FolderMail
	switch f.Class {
	case classCalendar:
		class = tenant.FolderCalendar
	case classContacts:
		class = tenant.FolderContacts
	case classTasks:
		return nil
	}
	var out []tenant.ExchangePermission
	for _, p := range ten.ExchangePermissions(u.ID) {
		if p.Kind == tenant.PermFolder && p.FolderClass == class && slices.Equal(p.FolderPath, path) {
			out = append(out, p)
		}
	}
	return out
}

// permissionSetXML renders the PermissionSet (CalendarPermissionSet for a calendar) of
// folder f. A folder without rows still shows Default and Anonymous with None, as
// Exchange does.
func permissionSetXML(ten *tenant.Tenant, u tenant.User, tree []efolder, f efolder) string {
	calendar := f.Class == classCalendar
	rows := folderPermissions(ten, u, tree, f)
	if len(rows) == 0 {
		rows = []tenant.ExchangePermission{
			{Kind: tenant.PermFolder, Grantee: tenant.Principal{Kind: tenant.PrincipalDefault}, Role: "None"},
			{Kind: tenant.PermFolder, Grantee: tenant.Principal{Kind: tenant.PrincipalAnonymous}, Role: "None"},
		}
	}
	var b strings.Builder
	wrap, list := "t:Permissions", "t:PermissionSet"
	if calendar {
		wrap = "t:CalendarPermissions"
	}
	fmt.Fprintf(&b, "<%s><%s>", list, wrap)
	for _, p := range rows {
		x, err := xml.Marshal(permissionXML(p, calendar))
		if err == nil {
			b.Write(x)
		}
	}
	fmt.Fprintf(&b, "</%s></%s>", wrap, list)
	return b.String()
}

// ---- delegates ----

type gwDelegatePermissions struct {
	Calendar string `xml:"t:CalendarFolderPermissionLevel"`
	Tasks    string `xml:"t:TasksFolderPermissionLevel"`
	Inbox    string `xml:"t:InboxFolderPermissionLevel"`
	Contacts string `xml:"t:ContactsFolderPermissionLevel"`
	Notes    string `xml:"t:NotesFolderPermissionLevel"`
	Journal  string `xml:"t:JournalFolderPermissionLevel"`
}

type gwDelegateUser struct {
	XMLName                        xml.Name               `xml:"m:DelegateUser"`
	UserID                         gwUserID               `xml:"t:UserId"`
	DelegatePermissions            *gwDelegatePermissions `xml:"t:DelegatePermissions"`
	ReceiveCopiesOfMeetingMessages *bool                  `xml:"t:ReceiveCopiesOfMeetingMessages"`
	ViewPrivateItems               *bool                  `xml:"t:ViewPrivateItems"`
}

// delegateLevel names a folder role as a DelegateFolderPermissionLevelType.
func delegateLevel(role string, found bool) string {
	if !found {
		return "None"
	}
	switch role {
	case "Editor", "Reviewer", "Author", "None":
		return role
	}
	return "Custom"
}

// delegates returns the delegates of mailbox u.
func delegates(ten *tenant.Tenant, u tenant.User, withPerms bool) []gwDelegateUser {
	perms := ten.ExchangePermissions(u.ID)
	calName := ""
	for _, c := range ten.Calendars(u.ID) {
		if c.IsDefault {
			calName = c.Name
		}
	}
	inbox, _ := ten.Folder(u.ID, "inbox")
	roleOn := func(addr string, class string, path []string) (string, bool) {
		for _, p := range perms {
			if p.Kind == tenant.PermFolder && p.FolderClass == class && strings.EqualFold(p.Grantee.Address, addr) && slices.Equal(p.FolderPath, path) {
				if len(p.Rights) > 0 {
					return "Custom", true
				}
				return p.Role, true
			}
		}
		return "", false
	}
	var out []gwDelegateUser
	for _, p := range perms {
		if p.Kind != tenant.PermFolder || p.FolderClass != tenant.FolderCalendar || !slices.Equal(p.FolderPath, []string{calName}) ||
			!slices.Contains(p.SharingFlags, "Delegate") || p.Grantee.Kind != tenant.PrincipalUser {
			continue
		}
		d := gwDelegateUser{UserID: gwUserID{PrimarySmtpAddress: p.Grantee.Address, DisplayName: p.Grantee.DisplayName}}
		if withPerms {
			yes, private := true, slices.Contains(p.SharingFlags, "CanViewPrivateItems")
			dp := &gwDelegatePermissions{Calendar: delegateLevel(p.Role, true), Notes: "None", Journal: "None"}
			dp.Inbox = delegateLevel(roleOn(p.Grantee.Address, tenant.FolderMail, []string{inbox.DisplayName}))
			dp.Contacts = delegateLevel(roleOn(p.Grantee.Address, tenant.FolderContacts, []string{"Contacts"}))
			dp.Tasks = "None"
			d.DelegatePermissions, d.ReceiveCopiesOfMeetingMessages, d.ViewPrivateItems = dp, &yes, &private
		}
		out = append(out, d)
	}
	return out
}

// getDelegate answers GetDelegate: ResponseClass on the root, one
// DelegateUserResponseMessageType per delegate (per asked UserId when UserIds is given;
// ErrorDelegateNoUser... for one that is not a delegate), then DeliverMeetingRequests.
func getDelegate(c *Call) error {
	var req struct {
		IncludePermissions string `xml:"IncludePermissions,attr"`
		Mailbox            struct {
			Email string `xml:"EmailAddress"`
		} `xml:"Mailbox"`
		UserIDs []struct {
			Address string `xml:"PrimarySmtpAddress"`
		} `xml:"UserIds>UserId"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	resp := func(class, code, text, inner string) {
		fmt.Fprintf(&c.Out, `<m:GetDelegateResponse ResponseClass="%s" xmlns:m="%s" xmlns:t="%s">`, class, nsMessages, nsTypes)
		if text != "" {
			fmt.Fprintf(&c.Out, `<m:MessageText>%s</m:MessageText>`, esc(text))
		}
		fmt.Fprintf(&c.Out, `<m:ResponseCode>%s</m:ResponseCode>`, code)
		if class == "Error" {
			c.Out.WriteString(`<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>`)
		}
		c.Out.WriteString(inner + `</m:GetDelegateResponse>`)
	}
	u, ok := c.Server().userByAddress(req.Mailbox.Email)
	if !ok {
		resp("Error", "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.", "")
		return nil
	}
	if !c.HasMailbox || !strings.EqualFold(u.ID, c.Mailbox.ID) {
		resp("Error", "ErrorAccessDenied", "Access is denied. Check credentials and try again.", "")
		return nil
	}
	with := strings.EqualFold(strings.TrimSpace(req.IncludePermissions), "true") || req.IncludePermissions == "1"
	list := delegates(c.Tenant(), u, with)
	var inner strings.Builder
	msg := func(d *gwDelegateUser, code, text string) {
		if d == nil {
			fmt.Fprintf(&inner, `<m:DelegateUserResponseMessageType ResponseClass="Error"><m:MessageText>%s</m:MessageText><m:ResponseCode>%s</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:DelegateUserResponseMessageType>`, esc(text), code)
			return
		}
		x, _ := xml.Marshal(d)
		fmt.Fprintf(&inner, `<m:DelegateUserResponseMessageType ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>%s</m:DelegateUserResponseMessageType>`, x)
	}
	if len(req.UserIDs) > 0 {
		for _, want := range req.UserIDs {
			i := slices.IndexFunc(list, func(d gwDelegateUser) bool { return strings.EqualFold(d.UserID.PrimarySmtpAddress, want.Address) })
			if i < 0 {
				msg(nil, "ErrorNotDelegate", "The user isn't a delegate for the mailbox.")
				continue
			}
			msg(&list[i], "", "")
		}
	} else {
		for i := range list {
			msg(&list[i], "", "")
		}
	}
	body := inner.String()
	if body != "" {
		body = `<m:ResponseMessages>` + body + `</m:ResponseMessages>`
	}
	resp("Success", "NoError", "", body+`<m:DeliverMeetingRequests>DelegatesAndSendInformationToMe</m:DeliverMeetingRequests>`)
	return nil
}

// ---- out of office ----

var oofStates = map[string]string{"disabled": "Disabled", "alwaysEnabled": "Enabled", "scheduled": "Scheduled"}
var oofAudiences = map[string]string{"none": "None", "contactsOnly": "Known", "all": "All"}

// getUserOofSettings answers GetUserOofSettings in the documented shape.
func getUserOofSettings(c *Call) error {
	var req struct {
		Mailbox struct {
			Address string `xml:"Address"`
		} `xml:"Mailbox"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	head := `<GetUserOofSettingsResponse xmlns="` + nsMessages + `">`
	fail := func(code, text string) {
		fmt.Fprintf(&c.Out, `%s<ResponseMessage ResponseClass="Error"><MessageText>%s</MessageText><ResponseCode>%s</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage></GetUserOofSettingsResponse>`, head, esc(text), code)
	}
	u, ok := c.Server().userByAddress(req.Mailbox.Address)
	if !ok {
		fail("ErrorMailRecipientNotFound", "No mailbox with such guid.")
		return nil
	}
	if !c.HasMailbox || !strings.EqualFold(u.ID, c.Mailbox.ID) {
		fail("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return nil
	}
	r, err := c.Tenant().AutoReply(u.ID)
	if err != nil {
		fail("ErrorMailRecipientNotFound", "No mailbox with such guid.")
		return nil
	}
	const local = "2006-01-02T15:04:05"
	fmt.Fprintf(&c.Out, `%s<ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage>`, head)
	fmt.Fprintf(&c.Out, `<OofSettings xmlns="%s"><OofState>%s</OofState><ExternalAudience>%s</ExternalAudience>`, nsTypes, cmpOr(oofStates[r.Status], "Disabled"), cmpOr(oofAudiences[r.ExternalAudience], "None"))
	if !r.Start.IsZero() || !r.End.IsZero() {
		fmt.Fprintf(&c.Out, `<Duration><StartTime>%s</StartTime><EndTime>%s</EndTime></Duration>`, r.Start.UTC().Format(local), r.End.UTC().Format(local))
	}
	reply := func(name, msg string) {
		if msg == "" {
			fmt.Fprintf(&c.Out, `<%s><Message/></%s>`, name, name)
			return
		}
		fmt.Fprintf(&c.Out, `<%s><Message>%s</Message></%s>`, name, esc(msg), name)
	}
	reply("InternalReply", r.InternalReply)
	reply("ExternalReply", r.ExternalReply)
	c.Out.WriteString(`</OofSettings><AllowExternalOof>All</AllowExternalOof></GetUserOofSettingsResponse>`)
	return nil
}

// ---- inbox rules ----

type graphEmail struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

type graphPredicates struct {
	Categories            []string     `json:"categories"`
	SubjectContains       []string     `json:"subjectContains"`
	BodyContains          []string     `json:"bodyContains"`
	BodyOrSubjectContains []string     `json:"bodyOrSubjectContains"`
	SenderContains        []string     `json:"senderContains"`
	RecipientContains     []string     `json:"recipientContains"`
	HeaderContains        []string     `json:"headerContains"`
	FromAddresses         []graphEmail `json:"fromAddresses"`
	SentToAddresses       []graphEmail `json:"sentToAddresses"`
	Importance            string       `json:"importance"`
	Sensitivity           string       `json:"sensitivity"`
	MessageActionFlag     string       `json:"messageActionFlag"`
	WithinSizeRange       *struct {
		Min int `json:"minimumSize"`
		Max int `json:"maximumSize"`
	} `json:"withinSizeRange"`
	HasAttachments         bool `json:"hasAttachments"`
	IsApprovalRequest      bool `json:"isApprovalRequest"`
	IsAutomaticForward     bool `json:"isAutomaticForward"`
	IsAutomaticReply       bool `json:"isAutomaticReply"`
	IsEncrypted            bool `json:"isEncrypted"`
	IsMeetingRequest       bool `json:"isMeetingRequest"`
	IsMeetingResponse      bool `json:"isMeetingResponse"`
	IsNonDeliveryReport    bool `json:"isNonDeliveryReport"`
	IsPermissionControlled bool `json:"isPermissionControlled"`
	IsReadReceipt          bool `json:"isReadReceipt"`
	IsSigned               bool `json:"isSigned"`
	IsVoicemail            bool `json:"isVoicemail"`
	NotSentToMe            bool `json:"notSentToMe"`
	SentCcMe               bool `json:"sentCcMe"`
	SentOnlyToMe           bool `json:"sentOnlyToMe"`
	SentToMe               bool `json:"sentToMe"`
	SentToOrCcMe           bool `json:"sentToOrCcMe"`
}

type graphActions struct {
	AssignCategories      []string     `json:"assignCategories"`
	CopyToFolder          string       `json:"copyToFolder"`
	Delete                bool         `json:"delete"`
	ForwardAsAttachmentTo []graphEmail `json:"forwardAsAttachmentTo"`
	ForwardTo             []graphEmail `json:"forwardTo"`
	MarkImportance        string       `json:"markImportance"`
	MarkAsRead            bool         `json:"markAsRead"`
	MoveToFolder          string       `json:"moveToFolder"`
	PermanentDelete       bool         `json:"permanentDelete"`
	RedirectTo            []graphEmail `json:"redirectTo"`
	StopProcessingRules   bool         `json:"stopProcessingRules"`
}

type graphRule struct {
	ID          string           `json:"id"`
	DisplayName string           `json:"displayName"`
	Sequence    int              `json:"sequence"`
	IsEnabled   bool             `json:"isEnabled"`
	HasError    bool             `json:"hasError"`
	Conditions  *graphPredicates `json:"conditions"`
	Exceptions  *graphPredicates `json:"exceptions"`
	Actions     *graphActions    `json:"actions"`
}

type gwAddresses struct {
	A []gwMailbox `xml:"t:Address"`
}

type gwSizeRange struct {
	Min int `xml:"t:MinimumSize"`
	Max int `xml:"t:MaximumSize"`
}

// gwPredicates is t:RulePredicatesType, elements in schema order.
type gwPredicates struct {
	Categories             *gwStrings   `xml:"t:Categories"`
	ContainsBodyStrings    *gwStrings   `xml:"t:ContainsBodyStrings"`
	ContainsHeaderStrings  *gwStrings   `xml:"t:ContainsHeaderStrings"`
	ContainsRecipientStrs  *gwStrings   `xml:"t:ContainsRecipientStrings"`
	ContainsSenderStrings  *gwStrings   `xml:"t:ContainsSenderStrings"`
	ContainsSubjectOrBody  *gwStrings   `xml:"t:ContainsSubjectOrBodyStrings"`
	ContainsSubjectStrings *gwStrings   `xml:"t:ContainsSubjectStrings"`
	FlaggedForAction       string       `xml:"t:FlaggedForAction,omitempty"`
	FromAddresses          *gwAddresses `xml:"t:FromAddresses"`
	HasAttachments         *bool        `xml:"t:HasAttachments"`
	Importance             string       `xml:"t:Importance,omitempty"`
	IsApprovalRequest      *bool        `xml:"t:IsApprovalRequest"`
	IsAutomaticForward     *bool        `xml:"t:IsAutomaticForward"`
	IsAutomaticReply       *bool        `xml:"t:IsAutomaticReply"`
	IsEncrypted            *bool        `xml:"t:IsEncrypted"`
	IsMeetingRequest       *bool        `xml:"t:IsMeetingRequest"`
	IsMeetingResponse      *bool        `xml:"t:IsMeetingResponse"`
	IsNDR                  *bool        `xml:"t:IsNDR"`
	IsPermissionControlled *bool        `xml:"t:IsPermissionControlled"`
	IsReadReceipt          *bool        `xml:"t:IsReadReceipt"`
	IsSigned               *bool        `xml:"t:IsSigned"`
	IsVoicemail            *bool        `xml:"t:IsVoicemail"`
	NotSentToMe            *bool        `xml:"t:NotSentToMe"`
	SentCcMe               *bool        `xml:"t:SentCcMe"`
	SentOnlyToMe           *bool        `xml:"t:SentOnlyToMe"`
	SentToAddresses        *gwAddresses `xml:"t:SentToAddresses"`
	SentToMe               *bool        `xml:"t:SentToMe"`
	SentToOrCcMe           *bool        `xml:"t:SentToOrCcMe"`
	Sensitivity            string       `xml:"t:Sensitivity,omitempty"`
	WithinSizeRange        *gwSizeRange `xml:"t:WithinSizeRange"`
}

type gwTargetFolder struct {
	FolderID gwID `xml:"t:FolderId"`
}

// gwActions is t:RuleActionsType, elements in schema order.
type gwActions struct {
	AssignCategories      *gwStrings      `xml:"t:AssignCategories"`
	CopyToFolder          *gwTargetFolder `xml:"t:CopyToFolder"`
	Delete                *bool           `xml:"t:Delete"`
	ForwardAsAttachmentTo *gwAddresses    `xml:"t:ForwardAsAttachmentToRecipients"`
	ForwardTo             *gwAddresses    `xml:"t:ForwardToRecipients"`
	MarkImportance        string          `xml:"t:MarkImportance,omitempty"`
	MarkAsRead            *bool           `xml:"t:MarkAsRead"`
	MoveToFolder          *gwTargetFolder `xml:"t:MoveToFolder"`
	PermanentDelete       *bool           `xml:"t:PermanentDelete"`
	RedirectTo            *gwAddresses    `xml:"t:RedirectToRecipients"`
	StopProcessingRules   *bool           `xml:"t:StopProcessingRules"`
}

type gwRule struct {
	XMLName     xml.Name      `xml:"t:Rule"`
	RuleID      string        `xml:"t:RuleId"`
	DisplayName string        `xml:"t:DisplayName"`
	Priority    int           `xml:"t:Priority"`
	IsEnabled   bool          `xml:"t:IsEnabled"`
	IsInError   *bool         `xml:"t:IsInError"`
	Conditions  *gwPredicates `xml:"t:Conditions"`
	Exceptions  *gwPredicates `xml:"t:Exceptions"`
	Actions     *gwActions    `xml:"t:Actions"`
}

func flag(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}

func addresses(ten *tenant.Tenant, list []graphEmail) *gwAddresses {
	if len(list) == 0 {
		return nil
	}
	out := &gwAddresses{}
	for _, e := range list {
		out.A = append(out.A, gwMailboxOf(ten, tenant.Address{Name: e.EmailAddress.Name, Address: e.EmailAddress.Address}))
	}
	return out
}

// flaggedForAction names Graph's messageActionFlag as EWS's FlaggedForActionType.
func flaggedForAction(f string) string {
	switch strings.ToLower(f) {
	case "":
		return ""
	case "fyi", "foryourinformation":
		return "FYI"
	case "donotforward":
		return "DoNotForward"
	case "followup":
		return "FollowUp"
	case "noresponsenecessary":
		return "NoResponseNecessary"
	case "replytoall":
		return "ReplyToAll"
	}
	return title(f)
}

func predicatesXML(ten *tenant.Tenant, p *graphPredicates) *gwPredicates {
	if p == nil {
		return nil
	}
	x := &gwPredicates{
		Categories: gwStringList(p.Categories), ContainsBodyStrings: gwStringList(p.BodyContains),
		ContainsHeaderStrings: gwStringList(p.HeaderContains), ContainsRecipientStrs: gwStringList(p.RecipientContains),
		ContainsSenderStrings: gwStringList(p.SenderContains), ContainsSubjectOrBody: gwStringList(p.BodyOrSubjectContains),
		ContainsSubjectStrings: gwStringList(p.SubjectContains), FlaggedForAction: flaggedForAction(p.MessageActionFlag),
		FromAddresses: addresses(ten, p.FromAddresses), HasAttachments: flag(p.HasAttachments), Importance: title(p.Importance),
		IsApprovalRequest: flag(p.IsApprovalRequest), IsAutomaticForward: flag(p.IsAutomaticForward),
		IsAutomaticReply: flag(p.IsAutomaticReply), IsEncrypted: flag(p.IsEncrypted), IsMeetingRequest: flag(p.IsMeetingRequest),
		IsMeetingResponse: flag(p.IsMeetingResponse), IsNDR: flag(p.IsNonDeliveryReport),
		IsPermissionControlled: flag(p.IsPermissionControlled), IsReadReceipt: flag(p.IsReadReceipt), IsSigned: flag(p.IsSigned),
		IsVoicemail: flag(p.IsVoicemail), NotSentToMe: flag(p.NotSentToMe), SentCcMe: flag(p.SentCcMe),
		SentOnlyToMe: flag(p.SentOnlyToMe), SentToAddresses: addresses(ten, p.SentToAddresses), SentToMe: flag(p.SentToMe),
		SentToOrCcMe: flag(p.SentToOrCcMe), Sensitivity: title(p.Sensitivity),
	}
	if p.WithinSizeRange != nil {
		x.WithinSizeRange = &gwSizeRange{Min: p.WithinSizeRange.Min, Max: p.WithinSizeRange.Max}
	}
	if (*x == gwPredicates{}) {
		return nil
	}
	return x
}

func target(id string) *gwTargetFolder {
	if id == "" {
		return nil
	}
	return &gwTargetFolder{FolderID: gwID{ID: id}}
}

func actionsXML(ten *tenant.Tenant, a *graphActions) *gwActions {
	if a == nil {
		return nil
	}
	return &gwActions{
		AssignCategories: gwStringList(a.AssignCategories), CopyToFolder: target(a.CopyToFolder), Delete: flag(a.Delete),
		ForwardAsAttachmentTo: addresses(ten, a.ForwardAsAttachmentTo), ForwardTo: addresses(ten, a.ForwardTo),
		MarkImportance: title(a.MarkImportance), MarkAsRead: flag(a.MarkAsRead), MoveToFolder: target(a.MoveToFolder),
		PermanentDelete: flag(a.PermanentDelete), RedirectTo: addresses(ten, a.RedirectTo), StopProcessingRules: flag(a.StopProcessingRules),
	}
}

// ruleXML converts one Graph messageRule payload.
func ruleXML(ten *tenant.Tenant, payload []byte) (*gwRule, error) {
	var g graphRule
	if err := json.Unmarshal(payload, &g); err != nil {
		return nil, fmt.Errorf("ews: rule payload: %w", err)
	}
	return &gwRule{RuleID: g.ID, DisplayName: g.DisplayName, Priority: g.Sequence, IsEnabled: g.IsEnabled,
		IsInError: flag(g.HasError), Conditions: predicatesXML(ten, g.Conditions), Exceptions: predicatesXML(ten, g.Exceptions),
		Actions: actionsXML(ten, g.Actions)}, nil
}

// getInboxRules answers GetInboxRules: ResponseClass on the root, OutlookRuleBlobExists,
// InboxRules.
func getInboxRules(c *Call) error {
	var req struct {
		Address string `xml:"MailboxSmtpAddress"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	open := fmt.Sprintf(`<m:GetInboxRulesResponse ResponseClass="%%s" xmlns:m="%s" xmlns:t="%s">`, nsMessages, nsTypes)
	fail := func(code, text string) {
		fmt.Fprintf(&c.Out, open, "Error")
		fmt.Fprintf(&c.Out, `<m:MessageText>%s</m:MessageText><m:ResponseCode>%s</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetInboxRulesResponse>`, esc(text), code)
	}
	u := c.Mailbox
	if req.Address != "" {
		var ok bool
		if u, ok = c.Server().userByAddress(req.Address); !ok {
			fail("ErrorMailRecipientNotFound", "The SMTP address has no mailbox associated with it.")
			return nil
		}
	}
	if !c.HasMailbox || !strings.EqualFold(u.ID, c.Mailbox.ID) {
		fail("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return nil
	}
	rules := c.Tenant().Rules(u.ID)
	fmt.Fprintf(&c.Out, open, "Success")
	fmt.Fprintf(&c.Out, `<m:ResponseCode>NoError</m:ResponseCode><m:OutlookRuleBlobExists>%t</m:OutlookRuleBlobExists><m:InboxRules>`, len(rules) > 0)
	for _, r := range rules {
		x, err := ruleXML(c.Tenant(), r.Payload)
		if err != nil {
			continue // a payload the tenant stores is valid JSON; a broken one is left out
		}
		b, err := xml.Marshal(x)
		if err != nil {
			return err
		}
		c.Out.Write(b)
	}
	c.Out.WriteString(`</m:InboxRules></m:GetInboxRulesResponse>`)
	return nil
}

func init() {
	register("GetDelegate", getDelegate)
	register("GetUserOofSettingsRequest", getUserOofSettings) // the request element is named so
	register("GetInboxRules", getInboxRules)
	folderPermissionSet = func(c *Call, u tenant.User, f efolder) string {
		return permissionSetXML(c.Tenant(), u, c.Server().folderTree(u), f)
	}
}
