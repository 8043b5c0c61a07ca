package ews

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// serviceClient acts for mailbox mail through the service account's impersonation right.
func serviceClient(t *testing.T, s *Server, mail string) *coreClient {
	c := basicClient(t, s, "svc-bascule@contoso.example", "Service-Pa55!")
	c.impersonate, c.anchor = mail, mail
	return c
}

func TestGetDelegate(t *testing.T) {
	s, ten := startCore(t, Options{})
	total := 0
	for _, u := range ten.Users() {
		c := serviceClient(t, s, u.Mail)
		n := c.mustOK(`<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>` + u.Mail + `</t:EmailAddress></m:Mailbox></m:GetDelegate>`)
		root := n.first("GetDelegateResponse")
		if root.Attr["ResponseClass"] != "Success" || root.kid("DeliverMeetingRequests").Text == "" {
			t.Fatalf("%s: %s", u.Mail, n.dump())
		}
		perms := ten.ExchangePermissions(u.ID)
		cal, _ := ten.Calendar(u.ID, "calendar")
		inbox, _ := ten.Folder(u.ID, "inbox")
		var want []tenant.ExchangePermission
		for _, p := range perms {
			if p.Kind == tenant.PermFolder && slices.Equal(p.FolderPath, []string{cal.Name}) && slices.Contains(p.SharingFlags, "Delegate") {
				want = append(want, p)
			}
		}
		got := root.kid("ResponseMessages").all("DelegateUserResponseMessageType")
		if len(got) != len(want) {
			t.Errorf("%s: %d delegates, want %d: %s", u.Mail, len(got), len(want), n.dump())
			continue
		}
		for i, d := range got {
			w := want[i]
			du := d.kid("DelegateUser")
			if d.Attr["ResponseClass"] != "Success" || du.Space != nsMessages || du.first("PrimarySmtpAddress").Text != w.Grantee.Address {
				t.Errorf("%s: delegate %d: %s", u.Mail, i, n.dump())
			}
			dp := du.kid("DelegatePermissions")
			if dp.kid("CalendarFolderPermissionLevel").Text != w.Role {
				t.Errorf("%s: %s calendar level %q, want %q", u.Mail, w.Grantee.Address, dp.kid("CalendarFolderPermissionLevel").Text, w.Role)
			}
			inboxRole := "None"
			for _, p := range perms {
				if p.Kind == tenant.PermFolder && p.Grantee.Address == w.Grantee.Address && slices.Equal(p.FolderPath, []string{inbox.DisplayName}) {
					inboxRole = p.Role
				}
			}
			if dp.kid("InboxFolderPermissionLevel").Text != inboxRole {
				t.Errorf("%s: %s inbox level %q, want %q", u.Mail, w.Grantee.Address, dp.kid("InboxFolderPermissionLevel").Text, inboxRole)
			}
			if priv := slices.Contains(w.SharingFlags, "CanViewPrivateItems"); (du.kid("ViewPrivateItems").Text == "true") != priv {
				t.Errorf("%s: %s ViewPrivateItems %q, want %v", u.Mail, w.Grantee.Address, du.kid("ViewPrivateItems").Text, priv)
			}
			total++
		}
		// Without permissions, only the users.
		n = c.mustOK(`<m:GetDelegate IncludePermissions="false"><m:Mailbox><t:EmailAddress>` + u.Mail + `</t:EmailAddress></m:Mailbox></m:GetDelegate>`)
		if len(n.all("DelegateUser")) != len(want) || len(n.all("DelegatePermissions")) != 0 {
			t.Errorf("%s: IncludePermissions=false answered %s", u.Mail, n.dump())
		}
	}
	if total == 0 {
		t.Error("the tenant should have delegates")
	}
	// Another mailbox than the one acted for.
	us := regular(ten)
	c := serviceClient(t, s, us[0].Mail)
	_, n := c.call(`<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>` + us[1].Mail + `</t:EmailAddress></m:Mailbox></m:GetDelegate>`)
	if r := n.first("GetDelegateResponse"); r.Attr["ResponseClass"] != "Error" || r.kid("ResponseCode").Text != "ErrorAccessDenied" {
		t.Errorf("GetDelegate of another mailbox: %s", n.dump())
	}
}

func getFolderPerms(id string) string {
	return `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:PermissionSet"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:FolderId Id="` + esc(id) + `"/></m:FolderIds></m:GetFolder>`
}

func TestFolderPermissions(t *testing.T) {
	s, ten := startCore(t, Options{})
	seen := map[string]bool{}
	for _, u := range ten.Users() {
		c := serviceClient(t, s, u.Mail)
		// Every folder row of the Exchange exports appears once, on its folder.
		want := map[string]int{}
		for _, p := range ten.ExchangePermissions(u.ID) {
			if p.Kind != tenant.PermFolder {
				continue
			}
			who := cmpOr(p.Grantee.Address, p.Grantee.Name)
			want[strings.Join(p.FolderPath, "/")+"|"+who+"|"+ewsLevel(p.Role, p.FolderClass == tenant.FolderCalendar)]++
		}
		got := map[string]int{}
		for _, f := range s.folderTree(u) {
			if f.Class == "" {
				continue
			}
			n := c.mustOK(getFolderPerms(f.ID))
			entry, level, set := "Permission", "PermissionLevel", "Permissions"
			if f.Class == classCalendar {
				entry, level, set = "CalendarPermission", "CalendarPermissionLevel", "CalendarPermissions"
			}
			ps := n.first("PermissionSet")
			if len(ps.Kids) != 1 || ps.Kids[0].Name != set {
				t.Fatalf("%s %s: %s", u.Mail, f.Name, n.dump())
			}
			path := strings.Join(folderPath(s.folderTree(u), f), "/")
			for _, p := range ps.all(entry) {
				uid := p.kid("UserId")
				who := cmpOr(uid.kid("PrimarySmtpAddress").Text, uid.kid("DistinguishedUser").Text)
				if uid.kid("DistinguishedUser").Text != "" && uid.kid("PrimarySmtpAddress").Name != "" {
					t.Errorf("%s: both a distinguished user and an address", n.dump())
				}
				key := path + "|" + who + "|" + p.kid(level).Text
				got[key]++
				seen[p.kid(level).Text] = true
				checkRights(t, p, p.kid(level).Text)
			}
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %s shown %d times, want %d", u.Mail, k, got[k], n)
			}
		}
		for k, n := range got {
			if want[k] == 0 && !strings.HasSuffix(k, "|None") {
				t.Errorf("%s: %s shown %d times, not in the tenant", u.Mail, k, n)
			}
		}
	}
	for _, l := range []string{"Owner", "Editor", "Reviewer", "Custom", "NoneditingAuthor", "FreeBusyTimeOnly", "FreeBusyTimeAndSubjectAndLocation", "None"} {
		if !seen[l] {
			t.Errorf("no permission with level %s", l)
		}
	}
}

// checkRights checks the individual rights a level stands for.
func checkRights(t *testing.T, p *node, level string) {
	t.Helper()
	get := func(n string) string { return p.kid(n).Text }
	want := map[string][]string{ // CanCreateItems, IsFolderVisible, EditItems, DeleteItems, ReadItems
		"Owner":                             {"true", "true", "All", "All", "FullDetails"},
		"Editor":                            {"true", "true", "All", "All", "FullDetails"},
		"Reviewer":                          {"false", "true", "None", "None", "FullDetails"},
		"NoneditingAuthor":                  {"true", "true", "None", "Owned", "FullDetails"},
		"None":                              {"false", "false", "None", "None", "None"},
		"FreeBusyTimeOnly":                  {"false", "false", "None", "None", "TimeOnly"},
		"FreeBusyTimeAndSubjectAndLocation": {"false", "false", "None", "None", "TimeAndSubjectAndLocation"},
		// The tenant's custom set: ReadItems, CreateItems, EditOwnedItems, FolderVisible.
		"Custom": {"true", "true", "Owned", "None", "FullDetails"},
	}[level]
	if want == nil {
		return
	}
	got := []string{get("CanCreateItems"), get("IsFolderVisible"), get("EditItems"), get("DeleteItems"), get("ReadItems")}
	if !slices.Equal(got, want) {
		t.Errorf("level %s: rights %v, want %v", level, got, want)
	}
	// Element order of BasePermissionType then the level.
	var names []string
	for _, k := range p.Kids {
		names = append(names, k.Name)
	}
	if names[0] != "UserId" || !strings.HasSuffix(names[len(names)-1], "PermissionLevel") || names[len(names)-2] != "ReadItems" {
		t.Errorf("permission element order %v", names)
	}
}

func TestGetUserOofSettings(t *testing.T) {
	s, ten := startCore(t, Options{})
	states := map[string]bool{}
	for _, u := range ten.Users() {
		c := serviceClient(t, s, u.Mail)
		n := c.mustOK(`<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>` + u.Mail + `</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>`)
		root := n.first("GetUserOofSettingsResponse")
		if root.Space != nsMessages || root.kid("ResponseMessage").Attr["ResponseClass"] != "Success" || root.kid("ResponseMessages").Name != "" {
			t.Fatalf("%s: %s", u.Mail, n.dump())
		}
		r, _ := ten.AutoReply(u.ID)
		o := root.kid("OofSettings")
		if o.Space != nsTypes || root.kid("AllowExternalOof").Text != "All" {
			t.Errorf("%s: OofSettings in %q, AllowExternalOof %q", u.Mail, o.Space, root.kid("AllowExternalOof").Text)
		}
		wantState := map[string]string{"disabled": "Disabled", "alwaysEnabled": "Enabled", "scheduled": "Scheduled"}[r.Status]
		wantAud := map[string]string{"none": "None", "contactsOnly": "Known", "all": "All"}[r.ExternalAudience]
		if o.kid("OofState").Text != wantState || o.kid("ExternalAudience").Text != wantAud {
			t.Errorf("%s: %q %q, want %q %q", u.Mail, o.kid("OofState").Text, o.kid("ExternalAudience").Text, wantState, wantAud)
		}
		states[wantState] = true
		d := o.kid("Duration")
		st, err1 := time.Parse("2006-01-02T15:04:05", d.kid("StartTime").Text)
		en, err2 := time.Parse("2006-01-02T15:04:05", d.kid("EndTime").Text)
		if err1 != nil || err2 != nil || !st.Equal(r.Start) || !en.Equal(r.End) {
			t.Errorf("%s: Duration %q–%q, want %s–%s", u.Mail, d.kid("StartTime").Text, d.kid("EndTime").Text, r.Start, r.End)
		}
		if o.kid("InternalReply").kid("Message").Text != r.InternalReply || o.kid("ExternalReply").kid("Message").Text != r.ExternalReply {
			t.Errorf("%s: replies differ: %s", u.Mail, n.dump())
		}
	}
	if len(states) < 3 {
		t.Errorf("the tenant should show every state: %v", states)
	}
	us := regular(ten)
	c := serviceClient(t, s, us[0].Mail)
	_, n := c.call(`<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>nobody@contoso.example</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>`)
	if m := n.first("ResponseMessage"); m.Attr["ResponseClass"] != "Error" || m.kid("ResponseCode").Text != "ErrorMailRecipientNotFound" {
		t.Errorf("OOF of an unknown address: %s", n.dump())
	}
}

// ruleMap names each Graph messageRule key as the EWS element carrying it.
var ruleMap = map[string]string{
	"categories": "Categories", "bodyContains": "ContainsBodyStrings", "headerContains": "ContainsHeaderStrings",
	"recipientContains": "ContainsRecipientStrings", "senderContains": "ContainsSenderStrings",
	"bodyOrSubjectContains": "ContainsSubjectOrBodyStrings", "subjectContains": "ContainsSubjectStrings",
	"messageActionFlag": "FlaggedForAction", "fromAddresses": "FromAddresses", "hasAttachments": "HasAttachments",
	"importance": "Importance", "isAutomaticReply": "IsAutomaticReply", "isMeetingRequest": "IsMeetingRequest",
	"notSentToMe": "NotSentToMe", "sentCcMe": "SentCcMe", "sentOnlyToMe": "SentOnlyToMe", "sentToAddresses": "SentToAddresses",
	"sentToMe": "SentToMe", "sensitivity": "Sensitivity", "withinSizeRange": "WithinSizeRange",
	"assignCategories": "AssignCategories", "copyToFolder": "CopyToFolder", "delete": "Delete",
	"forwardAsAttachmentTo": "ForwardAsAttachmentToRecipients", "forwardTo": "ForwardToRecipients",
	"markImportance": "MarkImportance", "markAsRead": "MarkAsRead", "moveToFolder": "MoveToFolder",
	"permanentDelete": "PermanentDelete", "redirectTo": "RedirectToRecipients", "stopProcessingRules": "StopProcessingRules",
}

func TestGetInboxRules(t *testing.T) {
	s, ten := startCore(t, Options{})
	keys := map[string]bool{}
	for _, u := range ten.Users() {
		c := serviceClient(t, s, u.Mail)
		n := c.mustOK(`<m:GetInboxRules><m:MailboxSmtpAddress>` + u.Mail + `</m:MailboxSmtpAddress></m:GetInboxRules>`)
		root := n.first("GetInboxRulesResponse")
		want := ten.Rules(u.ID)
		got := root.kid("InboxRules").all("Rule")
		if root.Attr["ResponseClass"] != "Success" || root.kid("OutlookRuleBlobExists").Name == "" || len(got) != len(want) {
			t.Fatalf("%s: %d rules, want %d: %s", u.Mail, len(got), len(want), n.dump())
		}
		for i, r := range want {
			x := got[i]
			if x.kid("RuleId").Text != r.ID || x.kid("DisplayName").Text != r.Name || x.kid("Priority").Text != itoa(r.Sequence) ||
				x.kid("IsEnabled").Text != map[bool]string{true: "true", false: "false"}[r.Enabled] {
				t.Errorf("%s: rule %d head %s", u.Mail, i, n.dump())
			}
			var g map[string]any
			if err := json.Unmarshal(r.Payload, &g); err != nil {
				t.Fatal(err)
			}
			if he, _ := g["hasError"].(bool); (x.kid("IsInError").Text == "true") != he {
				t.Errorf("%s: %q IsInError %q, hasError %v", u.Mail, r.Name, x.kid("IsInError").Text, he)
			}
			for part, elem := range map[string]string{"conditions": "Conditions", "exceptions": "Exceptions", "actions": "Actions"} {
				m, _ := g[part].(map[string]any)
				for k, v := range m {
					e := x.kid(elem).kid(ruleMap[k])
					if ruleMap[k] == "" || e.Name == "" {
						t.Errorf("%s: %q %s.%s not carried: %s", u.Mail, r.Name, part, k, x.dump())
						continue
					}
					keys[k] = true
					switch v := v.(type) {
					case []any:
						var gotVals []string
						for _, kid := range e.Kids {
							gotVals = append(gotVals, cmpOr(kid.first("EmailAddress").Text, kid.Text))
						}
						var wantVals []string
						for _, it := range v {
							if m, ok := it.(map[string]any); ok {
								wantVals = append(wantVals, m["emailAddress"].(map[string]any)["address"].(string))
							} else {
								wantVals = append(wantVals, it.(string))
							}
						}
						if !slices.Equal(gotVals, wantVals) {
							t.Errorf("%s: %q %s: %v, want %v", u.Mail, r.Name, k, gotVals, wantVals)
						}
					case string:
						if k == "moveToFolder" || k == "copyToFolder" {
							if e.kid("FolderId").Attr["Id"] != v {
								t.Errorf("%s: %q %s folder %v, want %s", u.Mail, r.Name, k, e.kid("FolderId").Attr, v)
							}
						} else if !strings.EqualFold(e.Text, v) && !(k == "messageActionFlag" && e.Text == "FYI") {
							t.Errorf("%s: %q %s = %q, want %q", u.Mail, r.Name, k, e.Text, v)
						}
					case bool:
						if e.Text != "true" || !v {
							t.Errorf("%s: %q %s = %q", u.Mail, r.Name, k, e.Text)
						}
					case map[string]any: // withinSizeRange
						if e.kid("MinimumSize").Text != itoa(int(v["minimumSize"].(float64))) || e.kid("MaximumSize").Text != itoa(int(v["maximumSize"].(float64))) {
							t.Errorf("%s: %q size range %s", u.Mail, r.Name, e.dump())
						}
					}
				}
			}
		}
	}
	if len(keys) < 25 {
		t.Errorf("only %d rule keys seen", len(keys))
	}
}

// schemaOrder lists, in types.xsd (Exchange 2016) order, the child elements of the
// elements this file's operations write.
var schemaOrder = map[string]string{
	"item":                "MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe IsResend IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated ResponseObjects ReminderDueBy ReminderIsSet ReminderNextTime ReminderMinutesBeforeStart DisplayCc DisplayTo DisplayBcc HasAttachments ExtendedProperty Culture EffectiveRights LastModifiedName LastModifiedTime",
	"CalendarItem":        "UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent LegacyFreeBusyStatus Location When IsMeeting IsCancelled IsRecurring MeetingRequestWasSent IsResponseRequested CalendarItemType MyResponseType Organizer RequiredAttendees OptionalAttendees Resources InboxReminders ConflictingMeetingCount AdjacentMeetingCount ConflictingMeetings AdjacentMeetings Duration TimeZone AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone StartTimeZone EndTimeZone ConferenceType AllowNewTimeProposal IsOnlineMeeting MeetingWorkspaceUrl NetShowUrl EnhancedLocation StartWallClock EndWallClock StartTimeZoneId EndTimeZoneId IntendedFreeBusyStatus JoinOnlineMeetingUrl OnlineMeetingSettings IsOrganizer",
	"Contact":             "FileAs FileAsMapping DisplayName GivenName Initials MiddleName Nickname CompleteName CompanyName EmailAddresses AbchEmailAddresses PhysicalAddresses PhoneNumbers AssistantName Birthday BusinessHomePage Children Companies ContactSource Department Generation ImAddresses JobTitle Manager Mileage OfficeLocation PostalAddressIndex Profession SpouseName Surname WeddingAnniversary HasPicture",
	"Task":                "ActualWork AssignedTime BillingInformation ChangeCount Companies CompleteDate Contacts DelegationState Delegator DueDate IsAssignmentEditable IsComplete IsRecurring IsTeamTask Mileage Owner PercentComplete Recurrence StartDate Status StatusDescription TotalWork",
	"Rule":                "RuleId DisplayName Priority IsEnabled IsNotSupported IsInError Conditions Exceptions Actions",
	"Conditions":          "Categories ContainsBodyStrings ContainsHeaderStrings ContainsRecipientStrings ContainsSenderStrings ContainsSubjectOrBodyStrings ContainsSubjectStrings FlaggedForAction FromAddresses FromConnectedAccounts HasAttachments Importance IsApprovalRequest IsAutomaticForward IsAutomaticReply IsEncrypted IsMeetingRequest IsMeetingResponse IsNDR IsPermissionControlled IsReadReceipt IsSigned IsVoicemail ItemClasses MessageClassifications NotSentToMe SentCcMe SentOnlyToMe SentToAddresses SentToMe SentToOrCcMe Sensitivity WithinDateRange WithinSizeRange",
	"Actions":             "AssignCategories CopyToFolder Delete ForwardAsAttachmentToRecipients ForwardToRecipients MarkImportance MarkAsRead MoveToFolder PermanentDelete RedirectToRecipients SendSMSAlertToRecipients ServerReplyWithMessage StopProcessingRules",
	"FileAttachment":      "AttachmentId Name ContentType ContentId ContentLocation AttachmentOriginalUrl Size LastModifiedTime IsInline IsContactPhoto Content",
	"OofSettings":         "OofState ExternalAudience Duration InternalReply ExternalReply",
	"DelegateUser":        "UserId DelegatePermissions ReceiveCopiesOfMeetingMessages ViewPrivateItems",
	"DelegatePermissions": "CalendarFolderPermissionLevel TasksFolderPermissionLevel InboxFolderPermissionLevel ContactsFolderPermissionLevel NotesFolderPermissionLevel JournalFolderPermissionLevel",
}

// checkOrder fails unless n's children are elements of order, in that order.
func checkOrder(t *testing.T, n *node, order []string) {
	t.Helper()
	at := 0
	for _, k := range n.Kids {
		i := slices.Index(order[at:], k.Name)
		if i < 0 {
			t.Errorf("%s: child %s out of schema order (or unknown) in %v", n.Name, k.Name, kidNames(n))
			return
		}
		at += i + 1
	}
}

func kidNames(n *node) []string {
	var out []string
	for _, k := range n.Kids {
		out = append(out, k.Name)
	}
	return out
}

func TestSchemaOrder(t *testing.T) {
	s, ten := startCore(t, Options{})
	item := strings.Fields(schemaOrder["item"])
	seen := map[string]int{}
	check := func(n *node) {
		for name, list := range schemaOrder {
			if name == "item" {
				continue
			}
			order := strings.Fields(list)
			if name == "CalendarItem" || name == "Contact" || name == "Task" {
				order = append(slices.Clone(item), order...)
			}
			for _, x := range n.all(name) {
				checkOrder(t, x, order)
				seen[name]++
			}
		}
		for _, x := range n.all("Exceptions") {
			checkOrder(t, x, strings.Fields(schemaOrder["Conditions"]))
		}
	}
	for _, u := range ten.Users() {
		c := serviceClient(t, s, u.Mail)
		var ids []string
		for _, e := range ten.Events(u.ID, "") {
			ids = append(ids, e.ID)
			for _, x := range e.Exceptions {
				ids = append(ids, x.ID)
			}
		}
		for _, k := range ten.Contacts(u.ID, "") {
			ids = append(ids, k.ID)
		}
		for _, k := range ten.Tasks(u.ID, "") {
			ids = append(ids, k.ID)
		}
		_, n := c.call(getItemBody(ids...))
		check(n)
		check(c.mustOK(`<m:GetInboxRules><m:MailboxSmtpAddress>` + u.Mail + `</m:MailboxSmtpAddress></m:GetInboxRules>`))
		check(c.mustOK(`<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>` + u.Mail + `</t:EmailAddress></m:Mailbox></m:GetDelegate>`))
		check(c.mustOK(`<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>` + u.Mail + `</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>`))
		for _, k := range ten.Contacts(u.ID, "") {
			if k.Photo != nil {
				check(c.mustOK(`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="` + esc(k.ID) + `.photo"/></m:AttachmentIds></m:GetAttachment>`))
			}
		}
	}
	for name := range schemaOrder {
		if name != "item" && seen[name] == 0 {
			t.Errorf("no %s checked", name)
		}
	}
}
