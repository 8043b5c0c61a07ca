package tenant

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// ruleID makes an id shaped like Exchange's rule ids ("AQAAAJ5dZqA=").
func ruleID(seed int64, owner string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "rule/%d/%s/%d", seed, owner, n))
	return base64.StdEncoding.EncodeToString(append([]byte{0x01, 0, 0, 0}, h[:4]...))
}

// Graph messageRule JSON, in the order Graph writes the properties.
type (
	ruleEmail struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	ruleRecipient struct {
		EmailAddress ruleEmail `json:"emailAddress"`
	}
	ruleSize struct {
		MinimumSize int `json:"minimumSize"`
		MaximumSize int `json:"maximumSize"`
	}
	rulePredicates struct {
		Categories            []string        `json:"categories,omitempty"`
		SubjectContains       []string        `json:"subjectContains,omitempty"`
		BodyContains          []string        `json:"bodyContains,omitempty"`
		BodyOrSubjectContains []string        `json:"bodyOrSubjectContains,omitempty"`
		SenderContains        []string        `json:"senderContains,omitempty"`
		RecipientContains     []string        `json:"recipientContains,omitempty"`
		HeaderContains        []string        `json:"headerContains,omitempty"`
		FromAddresses         []ruleRecipient `json:"fromAddresses,omitempty"`
		SentToAddresses       []ruleRecipient `json:"sentToAddresses,omitempty"`
		Importance            string          `json:"importance,omitempty"`
		Sensitivity           string          `json:"sensitivity,omitempty"`
		MessageActionFlag     string          `json:"messageActionFlag,omitempty"`
		WithinSizeRange       *ruleSize       `json:"withinSizeRange,omitempty"`
		HasAttachments        bool            `json:"hasAttachments,omitempty"`
		IsAutomaticReply      bool            `json:"isAutomaticReply,omitempty"`
		IsMeetingRequest      bool            `json:"isMeetingRequest,omitempty"`
		SentToMe              bool            `json:"sentToMe,omitempty"`
		SentOnlyToMe          bool            `json:"sentOnlyToMe,omitempty"`
		SentCcMe              bool            `json:"sentCcMe,omitempty"`
		SentToOrCcMe          bool            `json:"sentToOrCcMe,omitempty"`
		NotSentToMe           bool            `json:"notSentToMe,omitempty"`
	}
	ruleActions struct {
		MoveToFolder          string          `json:"moveToFolder,omitempty"`
		CopyToFolder          string          `json:"copyToFolder,omitempty"`
		Delete                bool            `json:"delete,omitempty"`
		PermanentDelete       bool            `json:"permanentDelete,omitempty"`
		MarkAsRead            bool            `json:"markAsRead,omitempty"`
		MarkImportance        string          `json:"markImportance,omitempty"`
		AssignCategories      []string        `json:"assignCategories,omitempty"`
		ForwardTo             []ruleRecipient `json:"forwardTo,omitempty"`
		ForwardAsAttachmentTo []ruleRecipient `json:"forwardAsAttachmentTo,omitempty"`
		RedirectTo            []ruleRecipient `json:"redirectTo,omitempty"`
		StopProcessingRules   bool            `json:"stopProcessingRules,omitempty"`
	}
	ruleJSON struct {
		ID          string          `json:"id"`
		DisplayName string          `json:"displayName"`
		Sequence    int             `json:"sequence"`
		IsEnabled   bool            `json:"isEnabled"`
		HasError    bool            `json:"hasError"`
		IsReadOnly  bool            `json:"isReadOnly"`
		Conditions  *rulePredicates `json:"conditions,omitempty"`
		Exceptions  *rulePredicates `json:"exceptions,omitempty"`
		Actions     ruleActions     `json:"actions"`
	}
)

func rcpt(a Address) ruleRecipient { return ruleRecipient{ruleEmail(a)} }

// genRules makes the mailbox's inbox rules: mostly what Sieve can express (sender,
// recipients, subject/body/header words, importance, size, attachments; move, copy,
// delete, mark read, forward, redirect, stop), a few with Exchange-only conditions or
// actions (categories, sensitivity, meeting requests, forward as attachment), one disabled,
// one read-only, one in error (its target folder is gone).
func (t *Tenant) genRules(b *mailbox, users []*mailbox) []messageRule {
	fr := b.lang == "fr-FR"
	pick := func(f, e string) string {
		if fr {
			return f
		}
		return e
	}
	byName := map[string]string{}
	for _, f := range b.folders {
		byName[f.DisplayName] = f.ID
		if f.WellKnown != "" {
			byName[f.WellKnown] = f.ID
		}
	}
	colleague := Address{"Accueil", "accueil@" + domain}
	for _, ub := range users {
		if ub != b {
			colleague = Address{ub.user.DisplayName, ub.user.Mail}
			break
		}
	}
	var list []ruleJSON
	if b.user.Purpose == "shared" {
		list = []ruleJSON{
			{DisplayName: "Factures fournisseurs", IsEnabled: true,
				Conditions: &rulePredicates{SubjectContains: []string{"Facture", "Invoice"}, HasAttachments: true},
				Actions:    ruleActions{MoveToFolder: byName["Demandes"], StopProcessingRules: true}},
			{DisplayName: "Réponses automatiques", IsEnabled: true,
				Conditions: &rulePredicates{IsAutomaticReply: true},
				Actions:    ruleActions{MarkAsRead: true, MoveToFolder: byName["Traitées"]}},
			{DisplayName: "Copie au responsable", IsEnabled: true,
				Conditions: &rulePredicates{Importance: "high"},
				Actions:    ruleActions{ForwardTo: []ruleRecipient{rcpt(colleague)}}},
		}
	} else {
		list = []ruleJSON{
			{DisplayName: pick("Clients → Clients & Partenaires", "Clients → Clients & Partenaires"), IsEnabled: true,
				Conditions: &rulePredicates{FromAddresses: []ruleRecipient{rcpt(externals[0]), rcpt(externals[2])}},
				Actions:    ruleActions{MoveToFolder: byName["Clients & Partenaires"], StopProcessingRules: true}},
			{DisplayName: pick("Lettres d'information", "Newsletters"), IsEnabled: true,
				Conditions: &rulePredicates{SenderContains: []string{"newsletter@", "no-reply"}},
				Actions:    ruleActions{MarkAsRead: true, Delete: true}},
			{DisplayName: pick("Projet Été 2024", "Summer 2024 project"), IsEnabled: true,
				Conditions: &rulePredicates{SubjectContains: []string{"[Été 2024]", "Projet Été"}},
				Exceptions: &rulePredicates{SenderContains: []string{"newsletter@"}},
				Actions:    ruleActions{CopyToFolder: byName["Été 2024"]}},
			{DisplayName: pick("Gros fichiers", "Large attachments"), IsEnabled: true,
				Conditions: &rulePredicates{HasAttachments: true, WithinSizeRange: &ruleSize{MinimumSize: 5120, MaximumSize: 51200}},
				Actions:    ruleActions{MoveToFolder: byName["日本語"]}},
			{DisplayName: pick("Urgent → mobile", "Urgent → mobile"), IsEnabled: true,
				Conditions: &rulePredicates{BodyOrSubjectContains: []string{"urgent"}, Importance: "high", SentToMe: true},
				Actions:    ruleActions{ForwardTo: []ruleRecipient{rcpt(externals[3])}}},
			{DisplayName: pick("En copie", "Cc'd"), IsEnabled: true,
				Conditions: &rulePredicates{SentCcMe: true, NotSentToMe: true},
				Actions:    ruleActions{MoveToFolder: byName["Ünïcödé"]}},
			{DisplayName: pick("Liste projets → collègue", "Projects list → colleague"), IsEnabled: true,
				Conditions: &rulePredicates{RecipientContains: []string{"projets@"}, SentToAddresses: []ruleRecipient{{ruleEmail{"Projets", "projets@" + domain}}}},
				Actions:    ruleActions{RedirectTo: []ruleRecipient{rcpt(colleague)}, StopProcessingRules: true}},
			{DisplayName: pick("Envois en masse", "Bulk mail"), IsEnabled: true,
				Conditions: &rulePredicates{HeaderContains: []string{"Precedence: bulk"}, BodyContains: []string{"unsubscribe", "désabonner"}},
				Actions:    ruleActions{PermanentDelete: true}},
			{DisplayName: pick("Réunions (désactivée)", "Meetings (disabled)"), IsEnabled: false,
				Conditions: &rulePredicates{SubjectContains: []string{pick("Réunion", "Meeting")}, SentOnlyToMe: true},
				Actions:    ruleActions{MoveToFolder: byName["Réunions"], MarkImportance: "low"}},
			{DisplayName: "VIP", IsEnabled: true, IsReadOnly: true,
				Conditions: &rulePredicates{Categories: []string{"VIP", pick("Direction", "Management")}},
				Actions:    ruleActions{MoveToFolder: byName["Projets"], AssignCategories: []string{pick("Catégorie rouge", "Red category")}}},
			{DisplayName: pick("Invitations", "Meeting requests"), IsEnabled: true,
				Conditions: &rulePredicates{IsMeetingRequest: true},
				Actions:    ruleActions{CopyToFolder: byName["Réunions"]}},
			{DisplayName: pick("Confidentiel → assistante", "Confidential → assistant"), IsEnabled: true,
				Conditions: &rulePredicates{Sensitivity: "confidential", MessageActionFlag: "forYourInformation"},
				Actions:    ruleActions{ForwardAsAttachmentTo: []ruleRecipient{rcpt(colleague)}}},
			{DisplayName: pick("Ancien dossier", "Old folder"), IsEnabled: true, HasError: true,
				Conditions: &rulePredicates{SubjectContains: []string{"Archive 2019"}},
				Actions:    ruleActions{MoveToFolder: itemID(t.cfg.Seed, b.index, "f-deleted", 1)}},
		}
	}
	out := make([]messageRule, len(list))
	for i := range list {
		r := &list[i]
		r.ID = ruleID(t.cfg.Seed, b.user.UPN, i+1)
		r.Sequence = i + 1
		out[i] = messageRule{id: r.ID, name: r.DisplayName, sequence: r.Sequence, enabled: r.IsEnabled, payload: compactJSON(r)}
	}
	return out
}

// autoReplyHTML wraps a message the way Exchange stores it.
func autoReplyHTML(body string) string {
	return "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n" +
		"<div style=\"font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);\">\r\n" +
		body + "</div>\r\n</body>\r\n</html>\r\n"
}

// genAutoReply gives mailbox k one of: scheduled (summer holidays, contacts only outside),
// always on (everyone), disabled with a stale schedule; the shared mailbox last winter's
// closing, disabled since. Dates are fixed so the tenant stays deterministic; tests move them with
// SetAutoReply.
func genAutoReply(b *mailbox, k int) model.AutoReply {
	fr := b.lang == "fr-FR"
	name := b.user.DisplayName
	if b.user.Purpose == "shared" {
		// Last winter's closing, switched off since (Graph keeps the schedule).
		return model.AutoReply{Status: "disabled", ExternalAudience: "all",
			Start: time.Date(2025, 12, 23, 17, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC),
			InternalReply: autoReplyHTML("<p>L'accueil est fermé du 24 décembre au 4 janvier. Pour toute urgence : 01 23 45 67 89.</p>\r\n"),
			ExternalReply: autoReplyHTML("<p>Bonjour,</p>\r\n<p>Nos bureaux sont fermés du 24 décembre au 4 janvier inclus. Nous traiterons votre demande à notre retour.</p>\r\n<p>Cordialement,<br>\r\nL'équipe d'accueil</p>\r\n"),
		}
	}
	var r model.AutoReply
	switch k % 3 {
	case 0:
		r = model.AutoReply{Status: "scheduled", ExternalAudience: "contactsOnly",
			Start: time.Date(2026, 7, 17, 16, 0, 0, 0, time.UTC), End: time.Date(2026, 8, 10, 6, 0, 0, 0, time.UTC)}
	case 1:
		r = model.AutoReply{Status: "alwaysEnabled", ExternalAudience: "all",
			Start: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), End: time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC)}
	default:
		r = model.AutoReply{Status: "disabled", ExternalAudience: "none",
			Start: time.Date(2024, 12, 20, 17, 0, 0, 0, time.UTC), End: time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)}
	}
	if fr {
		r.InternalReply = autoReplyHTML("<p>Bonjour,</p>\r\n<p>Je suis absent(e) et je lirai votre message à mon retour. En cas d'urgence, contactez l'accueil (accueil@" + domain + ").</p>\r\n<p>" + name + "</p>\r\n")
		r.ExternalReply = autoReplyHTML("<p>Bonjour,</p>\r\n<p>Je suis actuellement absent(e), avec un accès limité à ma messagerie. Je vous répondrai dès mon retour.</p>\r\n<p>Cordialement,<br>\r\n" + name + "</p>\r\n")
	} else {
		r.InternalReply = autoReplyHTML("<p>Hi,</p>\r\n<p>I'm out of the office and will read your message when I'm back. For anything urgent, please contact the front desk (accueil@" + domain + ").</p>\r\n<p>" + name + "</p>\r\n")
		r.ExternalReply = autoReplyHTML("<p>Hello,</p>\r\n<p>Thank you for your email. I'm currently out of the office with limited access to email &amp; will reply when I return.</p>\r\n<p>Kind regards,<br>\r\n" + name + "</p>\r\n")
	}
	return r
}
