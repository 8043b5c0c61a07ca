package ews

// Settings of the EWS source: out-of-office (GetUserOofSettings), inbox rules
// (GetInboxRules, written as Graph messageRule JSON for transform/sieve), delegates
// (GetDelegate) and the permissions of every folder (GetFolder PermissionSet /
// CalendarPermissionSet) — which Graph does not expose. Mailbox-level rights (FullAccess,
// SendAs, SendOnBehalf) still come only from Exchange's PowerShell exports
// (extract/exchangecsv): GetDelegate does not say whether a delegate may send on behalf
// (GrantSendOnBehalfTo is kept apart from the delegate list), so no SendOnBehalf grant is
// guessed from it.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/model"
)

// OriginFolderPermissions and OriginDelegates are the Origins of the grants read from EWS.
const (
	OriginFolderPermissions = "ews GetFolder PermissionSet"
	OriginDelegates         = "ews GetDelegate"
)

// ---- out of office ----

type gwGetUserOofSettings struct {
	XMLName xml.Name `xml:"m:GetUserOofSettingsRequest"`
	Address string   `xml:"t:Mailbox>t:Address"`
}

type gwOofSettings struct {
	OofState         string `xml:"OofState"`
	ExternalAudience string `xml:"ExternalAudience"`
	Duration         *struct {
		StartTime string `xml:"StartTime"`
		EndTime   string `xml:"EndTime"`
	} `xml:"Duration"`
	InternalReply string `xml:"InternalReply>Message"`
	ExternalReply string `xml:"ExternalReply>Message"`
}

type gwGetUserOofSettingsResp struct {
	ResponseMessage ResponseMessage `xml:"ResponseMessage"`
	OofSettings     *gwOofSettings  `xml:"OofSettings"`
	AllowExternal   string          `xml:"AllowExternalOof"`
}

var oofStates = map[string]string{"Disabled": "disabled", "Enabled": "alwaysEnabled", "Scheduled": "scheduled"}
var audiences = map[string]string{"None": "none", "Known": "contactsOnly", "All": "all"}

// autoReply converts EWS OofSettings into model.AutoReply (Graph's vocabulary). The
// Duration bounds (UTC) are kept for a scheduled reply only, as the Graph source does.
func autoReply(o *gwOofSettings) (*model.AutoReply, error) {
	if o == nil {
		return nil, nil
	}
	st, ok := oofStates[strings.TrimSpace(o.OofState)]
	if !ok {
		return nil, fmt.Errorf("unknown OofState %q", o.OofState)
	}
	aud, ok := audiences[strings.TrimSpace(o.ExternalAudience)]
	if !ok {
		aud = "none"
	}
	r := &model.AutoReply{Status: st, ExternalAudience: aud, InternalReply: o.InternalReply, ExternalReply: o.ExternalReply}
	if st == "scheduled" {
		if o.Duration == nil {
			return nil, errors.New("scheduled OofState without Duration")
		}
		var ok1, ok2 bool
		r.Start, ok1 = parseEWSTime(o.Duration.StartTime)
		r.End, ok2 = parseEWSTime(o.Duration.EndTime)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unreadable Duration %q – %q", o.Duration.StartTime, o.Duration.EndTime)
		}
	}
	return r, nil
}

// ---- inbox rules ----

type gwGetInboxRules struct {
	XMLName xml.Name `xml:"m:GetInboxRules"`
	Address string   `xml:"m:MailboxSmtpAddress"`
}

// xmlNode is any element, kept whole: rule conditions and actions are read from it so an
// element Bascule does not know is kept (and reported) rather than dropped.
type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []xmlNode  `xml:",any"`
}

func (n xmlNode) child(name string) *xmlNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

func (n xmlNode) text() string { return strings.TrimSpace(n.Text) }

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

type gwRule struct {
	RuleID         string   `xml:"RuleId"`
	DisplayName    string   `xml:"DisplayName"`
	Priority       int      `xml:"Priority"`
	IsEnabled      bool     `xml:"IsEnabled"`
	IsNotSupported bool     `xml:"IsNotSupported"`
	IsInError      bool     `xml:"IsInError"`
	Conditions     *xmlNode `xml:"Conditions"`
	Exceptions     *xmlNode `xml:"Exceptions"`
	Actions        *xmlNode `xml:"Actions"`
}

type gwGetInboxRulesResp struct {
	ResponseMessage
	BlobExists bool     `xml:"OutlookRuleBlobExists"`
	Rules      []gwRule `xml:"InboxRules>Rule"`
}

// strings of an ArrayOfStringsType element (t:String children).
func (n xmlNode) strings() []string {
	out := []string{}
	for _, c := range n.Nodes {
		if c.XMLName.Local == "String" {
			out = append(out, c.Text)
		}
	}
	return out
}

// recipients of an ArrayOfEmailAddressesType element (t:Address{Name, EmailAddress}).
func (n xmlNode) recipients() []models.Recipientable {
	out := []models.Recipientable{}
	for _, c := range n.Nodes {
		if c.XMLName.Local != "Address" {
			continue
		}
		m := gwMailbox{RoutingType: "SMTP"}
		if x := c.child("Name"); x != nil {
			m.Name = x.Text
		}
		if x := c.child("EmailAddress"); x != nil {
			m.EmailAddress = x.text()
		}
		if x := c.child("RoutingType"); x != nil {
			m.RoutingType = x.text()
		}
		r := models.NewRecipient()
		r.SetEmailAddress(emailAddress(m))
		out = append(out, r)
	}
	return out
}

func (n xmlNode) boolean() *bool {
	v := strings.EqualFold(n.text(), "true") || n.text() == "1"
	return &v
}

// unknownAs is the member name an EWS element Graph has no counterpart for gets in the
// Graph JSON: transform/sieve reports it ("unknown condition ewsItemClasses") and leaves
// the rule unmapped, so it is never silently dropped.
func unknownAs(n xmlNode) (string, any) {
	var v any = n.text()
	if len(n.Nodes) > 0 {
		var parts []string
		for _, c := range n.Nodes {
			parts = append(parts, c.XMLName.Local+"="+strings.TrimSpace(c.Text))
		}
		v = parts
	}
	return "ews" + n.XMLName.Local, v
}

// actionFlags maps FlaggedForActionType values (lower-cased: EWS writes FYI) to Graph's
// messageActionFlag.
var actionFlags = map[string]string{"any": "any", "call": "call", "donotforward": "doNotForward", "followup": "followUp",
	"fyi": "fyi", "forward": "forward", "noresponsenecessary": "noResponseNecessary", "read": "read", "reply": "reply",
	"replytoall": "replyToAll", "review": "review"}

// predicates converts RulePredicatesType into Graph's messageRulePredicates.
func predicates(n *xmlNode) models.MessageRulePredicatesable {
	p := models.NewMessageRulePredicates()
	extra := map[string]any{}
	for _, c := range n.Nodes {
		switch c.XMLName.Local {
		case "Categories":
			p.SetCategories(c.strings())
		case "ContainsBodyStrings":
			p.SetBodyContains(c.strings())
		case "ContainsHeaderStrings":
			p.SetHeaderContains(c.strings())
		case "ContainsRecipientStrings":
			p.SetRecipientContains(c.strings())
		case "ContainsSenderStrings":
			p.SetSenderContains(c.strings())
		case "ContainsSubjectOrBodyStrings":
			p.SetBodyOrSubjectContains(c.strings())
		case "ContainsSubjectStrings":
			p.SetSubjectContains(c.strings())
		case "FlaggedForAction":
			if f := enum[models.MessageActionFlag](models.ParseMessageActionFlag, actionFlags[strings.ToLower(c.text())]); f != nil {
				p.SetMessageActionFlag(f)
			} else {
				k, v := unknownAs(c)
				extra[k] = v
			}
		case "FromAddresses":
			p.SetFromAddresses(c.recipients())
		case "SentToAddresses":
			p.SetSentToAddresses(c.recipients())
		case "HasAttachments":
			p.SetHasAttachments(c.boolean())
		case "Importance":
			p.SetImportance(enum[models.Importance](models.ParseImportance, lowerFirst(c.text())))
		case "Sensitivity":
			p.SetSensitivity(enum[models.Sensitivity](models.ParseSensitivity, lowerFirst(c.text())))
		case "IsApprovalRequest":
			p.SetIsApprovalRequest(c.boolean())
		case "IsAutomaticForward":
			p.SetIsAutomaticForward(c.boolean())
		case "IsAutomaticReply":
			p.SetIsAutomaticReply(c.boolean())
		case "IsEncrypted":
			p.SetIsEncrypted(c.boolean())
		case "IsMeetingRequest":
			p.SetIsMeetingRequest(c.boolean())
		case "IsMeetingResponse":
			p.SetIsMeetingResponse(c.boolean())
		case "IsNDR":
			p.SetIsNonDeliveryReport(c.boolean())
		case "IsPermissionControlled":
			p.SetIsPermissionControlled(c.boolean())
		case "IsReadReceipt":
			p.SetIsReadReceipt(c.boolean())
		case "IsSigned":
			p.SetIsSigned(c.boolean())
		case "IsVoicemail":
			p.SetIsVoicemail(c.boolean())
		case "NotSentToMe":
			p.SetNotSentToMe(c.boolean())
		case "SentCcMe":
			p.SetSentCcMe(c.boolean())
		case "SentOnlyToMe":
			p.SetSentOnlyToMe(c.boolean())
		case "SentToMe":
			p.SetSentToMe(c.boolean())
		case "SentToOrCcMe":
			p.SetSentToOrCcMe(c.boolean())
		case "WithinSizeRange":
			r := models.NewSizeRange()
			if x := c.child("MinimumSize"); x != nil {
				r.SetMinimumSize(ptr(atoi32(x.text())))
			}
			if x := c.child("MaximumSize"); x != nil {
				r.SetMaximumSize(ptr(atoi32(x.text())))
			}
			p.SetWithinSizeRange(r)
		default:
			// ItemClasses, MessageClassifications, FromConnectedAccounts, WithinDateRange…
			k, v := unknownAs(c)
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		p.SetAdditionalData(extra)
	}
	return p
}

// actions converts RuleActionsType into Graph's messageRuleActions. folderID resolves a
// t:DistinguishedFolderId name to the folder's id ("" when unknown: the name is kept, and
// transform/sieve reports the folder as not migrated).
func actions(n *xmlNode, folderID func(distinguished string) string) models.MessageRuleActionsable {
	a := models.NewMessageRuleActions()
	extra := map[string]any{}
	folder := func(c xmlNode) *string {
		if f := c.child("FolderId"); f != nil {
			return ptr(f.attr("Id"))
		}
		if f := c.child("DistinguishedFolderId"); f != nil {
			name := f.attr("Id")
			if id := folderID(name); id != "" {
				return &id
			}
			return &name
		}
		return ptr("")
	}
	for _, c := range n.Nodes {
		switch c.XMLName.Local {
		case "AssignCategories":
			a.SetAssignCategories(c.strings())
		case "CopyToFolder":
			a.SetCopyToFolder(folder(c))
		case "MoveToFolder":
			a.SetMoveToFolder(folder(c))
		case "Delete":
			a.SetDelete(c.boolean())
		case "PermanentDelete":
			a.SetPermanentDelete(c.boolean())
		case "MarkAsRead":
			a.SetMarkAsRead(c.boolean())
		case "StopProcessingRules":
			a.SetStopProcessingRules(c.boolean())
		case "MarkImportance":
			a.SetMarkImportance(enum[models.Importance](models.ParseImportance, lowerFirst(c.text())))
		case "ForwardToRecipients":
			a.SetForwardTo(c.recipients())
		case "ForwardAsAttachmentToRecipients":
			a.SetForwardAsAttachmentTo(c.recipients())
		case "RedirectToRecipients":
			a.SetRedirectTo(c.recipients())
		default:
			// ServerReplyWithMessage, SendSMSAlertToRecipients…
			k, v := unknownAs(c)
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		a.SetAdditionalData(extra)
	}
	return a
}

// gwRuleModel converts one EWS rule into a model.Rule with a Graph messageRule payload.
// Sequence is the EWS Priority (1 first), as Graph's sequence.
func gwRuleModel(r gwRule, folderID func(string) string) (model.Rule, error) {
	mr := models.NewMessageRule()
	mr.SetId(ptr(r.RuleID))
	mr.SetDisplayName(ptr(r.DisplayName))
	mr.SetSequence(ptr(int32(r.Priority)))
	mr.SetIsEnabled(ptr(r.IsEnabled))
	mr.SetHasError(ptr(r.IsInError))
	mr.SetIsReadOnly(ptr(r.IsNotSupported))
	if r.Conditions != nil {
		mr.SetConditions(predicates(r.Conditions))
	}
	if r.Exceptions != nil {
		mr.SetExceptions(predicates(r.Exceptions))
	}
	if r.Actions != nil {
		mr.SetActions(actions(r.Actions, folderID))
	}
	b, err := graphJSON(mr)
	if err != nil {
		return model.Rule{}, err
	}
	return model.Rule{ID: r.RuleID, Name: r.DisplayName, Sequence: r.Priority, Enabled: r.IsEnabled, Payload: b}, nil
}

// ---- delegates and folder permissions ----

type gwGetDelegate struct {
	XMLName     xml.Name `xml:"m:GetDelegate"`
	Permissions bool     `xml:"IncludePermissions,attr"`
	Address     string   `xml:"m:Mailbox>t:EmailAddress"`
}

type gwUserID struct {
	SID                string `xml:"SID"`
	PrimarySmtpAddress string `xml:"PrimarySmtpAddress"`
	DisplayName        string `xml:"DisplayName"`
	DistinguishedUser  string `xml:"DistinguishedUser"`
	ExternalUserID     string `xml:"ExternalUserIdentity"`
}

type gwDelegateUser struct {
	UserID      gwUserID `xml:"UserId"`
	Permissions struct {
		Calendar string `xml:"CalendarFolderPermissionLevel"`
		Tasks    string `xml:"TasksFolderPermissionLevel"`
		Inbox    string `xml:"InboxFolderPermissionLevel"`
		Contacts string `xml:"ContactsFolderPermissionLevel"`
		Notes    string `xml:"NotesFolderPermissionLevel"`
		Journal  string `xml:"JournalFolderPermissionLevel"`
	} `xml:"DelegatePermissions"`
	ReceiveCopies    bool `xml:"ReceiveCopiesOfMeetingMessages"`
	ViewPrivateItems bool `xml:"ViewPrivateItems"`
}

type gwGetDelegateResp struct {
	ResponseMessage
	Msgs []struct {
		ResponseMessage
		User *gwDelegateUser `xml:"DelegateUser"`
	} `xml:"ResponseMessages>DelegateUserResponseMessageType"`
	DeliverMeetingRequests string `xml:"DeliverMeetingRequests"`
}

// gwPermission is t:Permission or t:CalendarPermission.
type gwPermission struct {
	UserID           gwUserID `xml:"UserId"`
	CanCreateItems   bool     `xml:"CanCreateItems"`
	CanCreateSubs    bool     `xml:"CanCreateSubFolders"`
	IsFolderOwner    bool     `xml:"IsFolderOwner"`
	IsFolderVisible  bool     `xml:"IsFolderVisible"`
	IsFolderContact  bool     `xml:"IsFolderContact"`
	EditItems        string   `xml:"EditItems"`
	DeleteItems      string   `xml:"DeleteItems"`
	ReadItems        string   `xml:"ReadItems"`
	PermissionLevel  string   `xml:"PermissionLevel"`
	CalendarPermLevl string   `xml:"CalendarPermissionLevel"`
}

// gwPermissionSet is t:PermissionSet (Permissions/Permission) or t:CalendarPermissionSet
// (CalendarPermissions/CalendarPermission).
type gwPermissionSet struct {
	Permissions         []gwPermission `xml:"Permissions>Permission"`
	CalendarPermissions []gwPermission `xml:"CalendarPermissions>CalendarPermission"`
	UnknownEntries      []string       `xml:"UnknownEntries>UnknownEntry"`
}

// exchangeRoles maps EWS permission levels to the role names Get-MailboxFolderPermission
// shows (model.Grant.Role).
var exchangeRoles = map[string]string{
	"None": "None", "Owner": "Owner", "PublishingEditor": "PublishingEditor", "Editor": "Editor",
	"PublishingAuthor": "PublishingAuthor", "Author": "Author", "NoneditingAuthor": "NonEditingAuthor",
	"Reviewer": "Reviewer", "Contributor": "Contributor", "FreeBusyTimeOnly": "AvailabilityOnly",
	"FreeBusyTimeAndSubjectAndLocation": "LimitedDetails", "Custom": "Custom",
}

// rights lists a custom permission's individual rights with Exchange's names.
func (p gwPermission) rights() []string {
	var out []string
	switch p.ReadItems {
	case "FullDetails":
		out = append(out, "ReadItems")
	case "TimeOnly":
		out = append(out, "FreeBusyTimeOnly")
	case "TimeAndSubjectAndLocation":
		out = append(out, "FreeBusyTimeAndSubjectAndLocation")
	}
	if p.CanCreateItems {
		out = append(out, "CreateItems")
	}
	switch p.EditItems {
	case "Owned":
		out = append(out, "EditOwnedItems")
	case "All":
		out = append(out, "EditAllItems")
	}
	switch p.DeleteItems {
	case "Owned":
		out = append(out, "DeleteOwnedItems")
	case "All":
		out = append(out, "DeleteAllItems")
	}
	if p.CanCreateSubs {
		out = append(out, "CreateSubfolders")
	}
	if p.IsFolderOwner {
		out = append(out, "FolderOwner")
	}
	if p.IsFolderContact {
		out = append(out, "FolderContact")
	}
	if p.IsFolderVisible {
		out = append(out, "FolderVisible")
	}
	return out
}

// grantee names a permission's user: Default / Anonymous, the SMTP address, else what
// the server wrote (an unresolvable SID is kept as is, like the CSV reader does).
func (u gwUserID) grantee() string {
	switch {
	case strings.EqualFold(u.DistinguishedUser, "Default"):
		return model.GranteeDefault
	case strings.EqualFold(u.DistinguishedUser, "Anonymous"):
		return model.GranteeAnonymous
	case u.PrimarySmtpAddress != "":
		return u.PrimarySmtpAddress
	case u.ExternalUserID != "":
		return u.ExternalUserID
	case u.SID != "":
		return u.SID
	}
	return u.DisplayName
}

// folderGrants converts one folder's permission set into grants: the owner's own entry
// and entries that grant nothing (role None without rights — Exchange lists Default and
// Anonymous at None on every folder) are left out.
func folderGrants(owner string, f gwFolder, path string, scope model.GrantScope) []model.Grant {
	// A calendar folder's PermissionSet is a CalendarPermissionSetType
	// (CalendarPermissions/CalendarPermission), any other folder's a PermissionSetType.
	var perms []gwPermission
	for _, ps := range []*gwPermissionSet{f.PermissionSet, f.CalendarPermissionSet} {
		if ps != nil {
			perms = append(perms, ps.CalendarPermissions...)
			perms = append(perms, ps.Permissions...)
		}
	}
	var out []model.Grant
	for _, p := range perms {
		who := p.UserID.grantee()
		if who == "" || strings.EqualFold(who, owner) {
			continue
		}
		level := p.CalendarPermLevl
		if level == "" {
			level = p.PermissionLevel
		}
		role, ok := exchangeRoles[strings.TrimSpace(level)]
		if !ok {
			role = "Custom"
		}
		g := model.Grant{Owner: owner, Grantee: who, Scope: scope, FolderPath: path, FolderID: f.FolderID.ID,
			Role: role, Origin: OriginFolderPermissions}
		if role == "Custom" {
			g.Rights = p.rights()
			if len(g.Rights) == 0 {
				continue
			}
		}
		if role == "None" {
			continue
		}
		out = append(out, g)
	}
	return out
}

// delegateRoles maps a DelegateFolderPermissionLevel to the folder role it stands for.
var delegateRoles = map[string]string{"Editor": "Editor", "Reviewer": "Reviewer", "Author": "Author"}

// delegateGrants turns GetDelegate's answer into grants: the Delegate / CanViewPrivateItems
// flags on the delegate's calendar grant, and a folder grant for a delegate permission the folder's own
// permission set does not already show (Exchange writes delegate access into it, so
// normally none). folders maps a distinguished name (calendar, inbox…) to its folder id
// and path; grants are the folder grants read so far.
func delegateGrants(owner string, users []gwDelegateUser, folders map[string][2]string, grants []model.Grant) []model.Grant {
	for _, u := range users {
		who := u.UserID.grantee()
		if who == "" {
			continue
		}
		levels := []struct{ name, level string }{{"calendar", u.Permissions.Calendar}, {"tasks", u.Permissions.Tasks},
			{"inbox", u.Permissions.Inbox}, {"contacts", u.Permissions.Contacts}, {"notes", u.Permissions.Notes},
			{"journal", u.Permissions.Journal}}
		for _, l := range levels {
			f, ok := folders[l.name]
			role := delegateRoles[strings.TrimSpace(l.level)]
			if !ok || f[0] == "" {
				continue
			}
			i := slices.IndexFunc(grants, func(g model.Grant) bool {
				return g.FolderID == f[0] && strings.EqualFold(g.Grantee, who)
			})
			if i < 0 && role != "" {
				scope := model.ScopeFolder
				switch l.name {
				case "calendar":
					scope = model.ScopeCalendar
				case "contacts":
					scope = model.ScopeContacts
				}
				grants = append(grants, model.Grant{Owner: owner, Grantee: who, Scope: scope, FolderPath: f[1], FolderID: f[0],
					Role: role, Origin: OriginDelegates})
				i = len(grants) - 1
			}
			if i >= 0 && l.name == "calendar" {
				grants[i].Flags = appendNew(grants[i].Flags, "Delegate")
				if u.ViewPrivateItems {
					grants[i].Flags = appendNew(grants[i].Flags, "CanViewPrivateItems")
				}
			}
		}
	}
	return grants
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// ---- the calls ----

// gwSettings reads mbx's out-of-office, inbox rules, delegates and folder permissions.
// Purpose, TimeZone and Language stay empty: EWS has them only through calls an
// on-premises server answers differently by version (GetMailboxSettings does not exist
// before Exchange Online).
func gwSettings(ctx context.Context, c *Client, mbx model.Mailbox) (model.MailboxSettings, error) {
	var out model.MailboxSettings
	owner := mbx.Address

	var oof gwGetUserOofSettingsResp
	if err := c.Call(ctx, Request{Mailbox: owner, Body: gwGetUserOofSettings{Address: owner}}, &oof); err != nil {
		return out, fmt.Errorf("ews: out-of-office of %s: %w", owner, err)
	}
	if err := oof.ResponseMessage.Err("GetUserOofSettings", owner); err != nil {
		return out, fmt.Errorf("ews: out-of-office of %s: %w", owner, err)
	}
	ar, err := autoReply(oof.OofSettings)
	if err != nil {
		return out, model.Permanent(fmt.Errorf("ews: out-of-office of %s: %w", owner, err))
	}
	out.AutoReply = ar

	folders, err := hierarchy(ctx, c, mbx)
	if err != nil {
		return out, fmt.Errorf("ews: folders of %s: %w", owner, err)
	}
	wellKnown := []string{"calendar", "contacts", "tasks", "inbox", "notes", "journal", "msgfolderroot",
		"deleteditems", "drafts", "sentitems", "junkemail", "outbox"}
	defs, err := distinguished(ctx, c, mbx, wellKnown...)
	if err != nil {
		return out, fmt.Errorf("ews: folders of %s: %w", owner, err)
	}

	var rules gwGetInboxRulesResp
	if err := c.Call(ctx, Request{Mailbox: owner, Body: gwGetInboxRules{Address: owner}}, &rules); err != nil {
		if !errors.Is(err, model.ErrNotFound) {
			return out, fmt.Errorf("ews: inbox rules of %s: %w", owner, err)
		}
	}
	for _, r := range rules.Rules {
		m, err := gwRuleModel(r, func(name string) string { return defs[strings.ToLower(name)] })
		if err != nil {
			return out, fmt.Errorf("ews: inbox rule %q of %s: %w", r.DisplayName, owner, err)
		}
		out.Rules = append(out.Rules, m)
	}
	slices.SortStableFunc(out.Rules, func(a, b model.Rule) int { return a.Sequence - b.Sequence })

	grants, err := permissionGrants(ctx, c, mbx, folders, defs["msgfolderroot"])
	if err != nil {
		return out, err
	}
	var del gwGetDelegateResp
	if err := c.Call(ctx, Request{Mailbox: owner, Body: gwGetDelegate{Permissions: true, Address: owner}}, &del); err != nil {
		if !errors.Is(err, model.ErrNotFound) {
			return out, fmt.Errorf("ews: delegates of %s: %w", owner, err)
		}
	}
	var users []gwDelegateUser
	for _, m := range del.Msgs {
		if !m.Failed() && m.User != nil {
			users = append(users, *m.User)
		}
	}
	paths := folderPaths(folders, defs["msgfolderroot"])
	byName := map[string][2]string{}
	for name, id := range defs {
		byName[name] = [2]string{id, paths[id]}
	}
	out.Grants = delegateGrants(owner, users, byName, grants)
	return out, nil
}

// folderPaths returns the "/"-joined display path of every folder, top-level first.
func folderPaths(folders []gwFolder, root string) map[string]string {
	byID := map[string]gwFolder{}
	for _, f := range folders {
		byID[f.FolderID.ID] = f
	}
	out := map[string]string{}
	var path func(id string, depth int) string
	path = func(id string, depth int) string {
		if p, ok := out[id]; ok {
			return p
		}
		f, ok := byID[id]
		if !ok || depth > 64 {
			return ""
		}
		name := f.DisplayName
		if pid := f.ParentFolderID.ID; pid != "" && pid != root {
			if pp := path(pid, depth+1); pp != "" {
				name = pp + "/" + name
			}
		}
		out[id] = name
		return name
	}
	for _, f := range folders {
		path(f.FolderID.ID, 0)
	}
	return out
}

// permissionGrants reads the permission set of every folder (GetFolder, a batch at a time)
// and turns it into grants. Search folders have none.
func permissionGrants(ctx context.Context, c *Client, mbx model.Mailbox, folders []gwFolder, root string) ([]model.Grant, error) {
	paths := folderPaths(folders, root)
	var ids []string
	for _, f := range folders {
		if f.XMLName.Local != "SearchFolder" {
			ids = append(ids, f.FolderID.ID)
		}
	}
	var out []model.Grant
	for len(ids) > 0 {
		n := min(len(ids), getBatch)
		req := gwGetFolder{BaseShape: "IdOnly", Props: []gwFieldURI{{"folder:FolderClass"}, {"folder:PermissionSet"}}}
		for _, id := range ids[:n] {
			req.IDs.Folder = append(req.IDs.Folder, gwIDRef{id})
		}
		ids = ids[n:]
		var resp gwGetFolderResp
		if err := c.Call(ctx, Request{Mailbox: mbx.Address, Body: req}, &resp); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			return nil, fmt.Errorf("ews: folder permissions of %s: %w", mbx.Address, err)
		}
		for _, m := range resp.Msgs {
			if err := m.Err("GetFolder", mbx.Address); err != nil {
				if errors.Is(err, model.ErrNotFound) {
					continue
				}
				return nil, fmt.Errorf("ews: folder permissions of %s: %w", mbx.Address, err)
			}
			for _, f := range m.Folders.List {
				scope := model.ScopeFolder
				switch kindOf(f.FolderClass) {
				case model.KindCalendar:
					scope = model.ScopeCalendar
				case model.KindContacts:
					scope = model.ScopeContacts
				}
				out = append(out, folderGrants(mbx.Address, f, paths[f.FolderID.ID], scope)...)
			}
		}
	}
	return out, nil
}
