package sieve

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/model"
)

// ruleWriter translates one rule; nothing it sets reaches the script unless the whole rule
// translates.
type ruleWriter struct {
	w         *writer
	req       map[string]bool
	warnings  []string
	redirects int
}

func (rw *ruleWriter) need(ext ...string) {
	for _, e := range ext {
		rw.req[e] = true
	}
}

// rule returns the Sieve text of r, or the reason it cannot be carried.
func (rw *ruleWriter) rule(r model.Rule) (text string, reason string) {
	v, err := parseJSON(r.Payload, models.CreateMessageRuleFromDiscriminatorValue)
	if err != nil {
		return "", err.Error()
	}
	mr, ok := v.(models.MessageRuleable)
	if !ok {
		return "", "malformed Graph JSON: not a messageRule"
	}
	if extra := unknownKeys(mr.GetAdditionalData()); len(extra) > 0 {
		return "", "unknown rule properties " + strings.Join(extra, ", ")
	}
	if mr.GetHasError() != nil && *mr.GetHasError() {
		rw.warnings = append(rw.warnings, "Exchange marks this rule as in error (hasError); it is carried as written")
	}
	var tests []string
	if c := mr.GetConditions(); c != nil {
		t, why := rw.predicates(c, "condition")
		if why != "" {
			return "", why
		}
		tests = append(tests, t...)
	}
	if e := mr.GetExceptions(); e != nil {
		t, why := rw.predicates(e, "exception")
		if why != "" {
			return "", why
		}
		if len(t) > 0 {
			tests = append(tests, "not "+anyof(t))
		}
	}
	a := mr.GetActions()
	if a == nil {
		return "", "the rule has no actions"
	}
	actions, why := rw.actions(a)
	if why != "" {
		return "", why
	}
	if len(actions) == 0 {
		return "", "the rule has no actions Bascule knows"
	}
	var b bytes.Buffer
	test := "true"
	switch len(tests) {
	case 0:
	case 1:
		test = tests[0]
	default:
		test = "allof(" + strings.Join(tests, ",\n      ") + ")"
	}
	fmt.Fprintf(&b, "if %s {\n", test)
	for _, act := range actions {
		fmt.Fprintf(&b, "    %s;\n", act)
	}
	b.WriteString("}\n")
	return b.String(), ""
}

func anyof(tests []string) string {
	if len(tests) == 1 {
		return tests[0]
	}
	return "anyof(" + strings.Join(tests, ", ") + ")"
}

// unknownKeys lists the properties kiota did not recognise (the @odata annotations aside).
func unknownKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// predicates translates a messageRulePredicates (conditions or exceptions) into tests that
// must all hold (conditions) — the caller wraps exceptions in not anyof.
func (rw *ruleWriter) predicates(p models.MessageRulePredicatesable, what string) ([]string, string) {
	if extra := unknownKeys(p.GetAdditionalData()); len(extra) > 0 {
		return nil, fmt.Sprintf("unknown %s %s", what, strings.Join(extra, ", "))
	}
	no := func(name, why string) ([]string, string) {
		return nil, fmt.Sprintf("%s %s has no Sieve form (%s)", what, name, why)
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	// Conditions Sieve cannot test: Exchange properties that are not in the message.
	switch {
	case len(p.GetCategories()) > 0:
		return no("categories", "categories are an Exchange item property")
	case p.GetSensitivity() != nil:
		return no("sensitivity", "Exchange's sensitivity is an item property")
	case p.GetMessageActionFlag() != nil:
		return no("messageActionFlag", "the follow-up flag Outlook sets is an item property")
	case isTrue(p.GetIsMeetingRequest()):
		return no("isMeetingRequest", "the message class is Exchange's")
	case isTrue(p.GetIsMeetingResponse()):
		return no("isMeetingResponse", "the message class is Exchange's")
	case isTrue(p.GetIsApprovalRequest()):
		return no("isApprovalRequest", "the message class is Exchange's")
	case isTrue(p.GetIsPermissionControlled()):
		return no("isPermissionControlled", "rights management is Exchange's")
	case isTrue(p.GetIsVoicemail()):
		return no("isVoicemail", "the message class is Exchange's")
	case isTrue(p.GetIsAutomaticForward()):
		return no("isAutomaticForward", "Exchange marks its own automatic forwards internally")
	case isTrue(p.GetIsEncrypted()):
		return no("isEncrypted", "the message class is Exchange's")
	case isTrue(p.GetIsSigned()):
		return no("isSigned", "the message class is Exchange's")
	}
	var tests []string
	if rs := p.GetFromAddresses(); len(rs) > 0 {
		addrs, why := rw.recipients(rs, "fromAddresses")
		if why != "" {
			return nil, why
		}
		tests = append(tests, "address :is \"from\" "+stringList(addrs))
	}
	if rs := p.GetSentToAddresses(); len(rs) > 0 {
		addrs, why := rw.recipients(rs, "sentToAddresses")
		if why != "" {
			return nil, why
		}
		tests = append(tests, "address :is [\"to\", \"cc\"] "+stringList(addrs))
	}
	contains := func(values []string, name string, f func(keys string) string) string {
		keys, ok := keyList(values)
		if !ok {
			return name + " holds no usable string"
		}
		tests = append(tests, f(keys))
		return ""
	}
	if v := p.GetSubjectContains(); len(v) > 0 {
		if why := contains(v, "subjectContains", func(k string) string { return "header :contains \"subject\" " + k }); why != "" {
			return nil, why
		}
	}
	if v := p.GetBodyContains(); len(v) > 0 {
		rw.need("body")
		if why := contains(v, "bodyContains", func(k string) string { return "body :text :contains " + k }); why != "" {
			return nil, why
		}
	}
	if v := p.GetBodyOrSubjectContains(); len(v) > 0 {
		rw.need("body")
		if why := contains(v, "bodyOrSubjectContains", func(k string) string {
			return "anyof(header :contains \"subject\" " + k + ", body :text :contains " + k + ")"
		}); why != "" {
			return nil, why
		}
	}
	if v := p.GetSenderContains(); len(v) > 0 {
		// Exchange matches the sender's display name and address: the whole From header.
		if why := contains(v, "senderContains", func(k string) string { return "header :contains \"from\" " + k }); why != "" {
			return nil, why
		}
	}
	if v := p.GetRecipientContains(); len(v) > 0 {
		if why := contains(v, "recipientContains", func(k string) string { return "header :contains [\"to\", \"cc\"] " + k }); why != "" {
			return nil, why
		}
	}
	if v := p.GetHeaderContains(); len(v) > 0 {
		t, why := headerContains(v)
		if why != "" {
			return nil, why
		}
		rw.warnings = append(rw.warnings, "headerContains: Exchange searches the whole header block, Sieve the named header's value")
		tests = append(tests, t)
	}
	if imp := p.GetImportance(); imp != nil {
		tests = append(tests, importanceTest(*imp))
	}
	if isTrue(p.GetHasAttachments()) {
		rw.need("body")
		rw.warnings = append(rw.warnings, "hasAttachments: tested as a MIME part header \"Content-Disposition: attachment\" in the raw body (Exchange also counts some inline parts)")
		tests = append(tests, hasAttachmentTest)
	}
	if sr := p.GetWithinSizeRange(); sr != nil {
		var lo, hi int64
		if sr.GetMinimumSize() != nil {
			lo = int64(*sr.GetMinimumSize())
		}
		if sr.GetMaximumSize() != nil {
			hi = int64(*sr.GetMaximumSize())
		}
		if lo < 0 || hi < 0 || (hi > 0 && hi < lo) {
			return nil, fmt.Sprintf("withinSizeRange %d–%d KB is not a range", lo, hi)
		}
		// Graph gives KB (1024 bytes), bounds included.
		if lo > 0 {
			tests = append(tests, fmt.Sprintf("size :over %d", lo*1024-1))
		}
		if hi > 0 {
			tests = append(tests, fmt.Sprintf("size :under %d", hi*1024+1))
		}
	}
	me := func(name string) string {
		if len(rw.w.own) == 0 {
			return name + " needs the mailbox's own addresses, which are unknown"
		}
		return ""
	}
	own := stringList(rw.w.own)
	if isTrue(p.GetSentToMe()) {
		if why := me("sentToMe"); why != "" {
			return nil, why
		}
		tests = append(tests, "address :is \"to\" "+own)
	}
	if isTrue(p.GetSentCcMe()) {
		if why := me("sentCcMe"); why != "" {
			return nil, why
		}
		tests = append(tests, "address :is \"cc\" "+own)
	}
	if isTrue(p.GetSentToOrCcMe()) {
		if why := me("sentToOrCcMe"); why != "" {
			return nil, why
		}
		tests = append(tests, "address :is [\"to\", \"cc\"] "+own)
	}
	if isTrue(p.GetNotSentToMe()) {
		if why := me("notSentToMe"); why != "" {
			return nil, why
		}
		// Exchange's NotSentToMe: the owner is not in the To line (being in Cc is fine: the
		// Outlook rule "where my name is not in the To box").
		tests = append(tests, "not address :is \"to\" "+own)
	}
	if isTrue(p.GetSentOnlyToMe()) {
		if why := me("sentOnlyToMe"); why != "" {
			return nil, why
		}
		rw.need("relational", "comparator-i;ascii-numeric")
		tests = append(tests, "address :is \"to\" "+own,
			"address :count \"eq\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"1\"")
	}
	if isTrue(p.GetIsAutomaticReply()) {
		rw.warnings = append(rw.warnings, "isAutomaticReply: tested as Auto-Submitted: auto-replied (RFC 3834) or X-Autoreply: yes")
		tests = append(tests, autoReplyTest)
	}
	if isTrue(p.GetIsNonDeliveryReport()) {
		tests = append(tests, "header :contains \"content-type\" \"report-type=delivery-status\"")
	}
	if isTrue(p.GetIsReadReceipt()) {
		tests = append(tests, "header :contains \"content-type\" \"report-type=disposition-notification\"")
	}
	return tests, ""
}

// hasAttachmentTest looks for a MIME part marked as an attachment. Sieve's mime extension
// (RFC 5703) would say it better, but Cyrus does not have it; the raw body holds every
// part's header.
const hasAttachmentTest = `anyof(body :raw :contains "Content-Disposition: attachment", body :raw :contains "Content-Disposition:attachment")`

// autoReplyTest recognises automatic answers by RFC 3834's Auto-Submitted: auto-replied
// and the X-Autoreply header some responders add instead.
const autoReplyTest = `anyof(header :matches "auto-submitted" "auto-replied*", header :is "x-autoreply" "yes")`

// importanceTest follows the headers Exchange itself reads importance from: Importance,
// X-Priority (1–2 high, 4–5 low), Priority and X-MSMail-Priority.
func importanceTest(imp models.Importance) string {
	high := `anyof(header :is "importance" "high", header :matches "x-priority" ["1", "1 *", "2", "2 *"], header :is "priority" "urgent", header :is "x-msmail-priority" "high")`
	low := `anyof(header :is "importance" "low", header :matches "x-priority" ["4", "4 *", "5", "5 *"], header :is "priority" "non-urgent", header :is "x-msmail-priority" "low")`
	switch imp {
	case models.HIGH_IMPORTANCE:
		return high
	case models.LOW_IMPORTANCE:
		return low
	default:
		return "not anyof(" + high + ", " + low + ")"
	}
}

// headerContains maps "Name: value" strings to header tests on Name; any other string is
// unmappable (Sieve tests named headers, not the header block).
func headerContains(values []string) (string, string) {
	byName := map[string][]string{}
	var names []string
	for _, v := range values {
		name, val, ok := strings.Cut(v, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || !validHeaderName(name) || val == "" || !usableString(val) {
			return "", fmt.Sprintf("condition headerContains %q has no Sieve form (Sieve tests a named header: only \"Name: value\" strings are carried)", v)
		}
		key := strings.ToLower(name)
		if _, seen := byName[key]; !seen {
			names = append(names, key)
		}
		byName[key] = append(byName[key], val)
	}
	var tests []string
	for _, n := range names {
		tests = append(tests, "header :contains "+quote(n)+" "+stringList(byName[n]))
	}
	return anyof(tests), ""
}

// recipients returns the addresses of Graph recipients, old and rewritten.
func (rw *ruleWriter) recipients(rs []models.Recipientable, what string) ([]string, string) {
	var addrs []string
	for _, r := range rs {
		var a string
		if r != nil && r.GetEmailAddress() != nil && r.GetEmailAddress().GetAddress() != nil {
			a = strings.TrimSpace(*r.GetEmailAddress().GetAddress())
		}
		if !validAddress(a) {
			return nil, fmt.Sprintf("%s holds %q, which is not an e-mail address", what, a)
		}
		addrs = append(addrs, a)
	}
	return rw.w.expand(addrs), ""
}

// actions translates the rule's actions, in the order Sieve needs: flags before the
// fileinto they apply to, stop last.
func (rw *ruleWriter) actions(a models.MessageRuleActionsable) ([]string, string) {
	if extra := unknownKeys(a.GetAdditionalData()); len(extra) > 0 {
		return nil, "unknown actions " + strings.Join(extra, ", ")
	}
	no := func(name, why string) ([]string, string) {
		return nil, fmt.Sprintf("action %s has no Sieve form (%s)", name, why)
	}
	if len(a.GetAssignCategories()) > 0 {
		return no("assignCategories", "categories are an Exchange item property")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	var out []string
	if isTrue(a.GetMarkAsRead()) {
		rw.need("imap4flags")
		out = append(out, `addflag "\\Seen"`)
	}
	if imp := a.GetMarkImportance(); imp != nil {
		if *imp != models.HIGH_IMPORTANCE {
			return no("markImportance "+imp.String(), "IMAP has no importance; only high is carried, as \\Flagged")
		}
		rw.need("imap4flags")
		rw.warnings = append(rw.warnings, "markImportance high: carried as the \\Flagged flag (IMAP has no importance)")
		out = append(out, `addflag "\\Flagged"`)
	}
	folder := func(id *string, what string) (string, string) {
		name, ok := rw.w.opt.Folders[*id]
		if !ok {
			return "", fmt.Sprintf("%s names folder %q, which is not among the migrated folders", what, *id)
		}
		return name, ""
	}
	if id := a.GetCopyToFolder(); id != nil {
		name, why := folder(id, "copyToFolder")
		if why != "" {
			return nil, why
		}
		rw.need("fileinto", "copy", "mailbox")
		out = append(out, "fileinto :copy :create "+quote(name))
	}
	var forwards []string
	for _, f := range []struct {
		name string
		rs   []models.Recipientable
	}{{"forwardTo", a.GetForwardTo()}, {"forwardAsAttachmentTo", a.GetForwardAsAttachmentTo()}, {"redirectTo", a.GetRedirectTo()}} {
		if len(f.rs) == 0 {
			continue
		}
		var addrs []string
		for _, r := range f.rs {
			var ad string
			if r != nil && r.GetEmailAddress() != nil && r.GetEmailAddress().GetAddress() != nil {
				ad = strings.TrimSpace(*r.GetEmailAddress().GetAddress())
			}
			ad = rw.w.opt.Rewrite.Address(ad)
			if !validAddress(ad) {
				return nil, fmt.Sprintf("%s holds %q, which is not an e-mail address", f.name, ad)
			}
			addrs = append(addrs, ad)
		}
		switch f.name {
		case "forwardTo":
			rw.warnings = append(rw.warnings, "forwardTo: carried as a redirect (the original message, not a new one from the mailbox)")
		case "forwardAsAttachmentTo":
			rw.warnings = append(rw.warnings, "forwardAsAttachmentTo: carried as a redirect (the original message, not wrapped as an attachment)")
		}
		for _, ad := range addrs {
			if !slices.ContainsFunc(forwards, func(s string) bool { return strings.EqualFold(s, ad) }) {
				forwards = append(forwards, ad)
			}
		}
	}
	for _, ad := range forwards {
		// Exchange keeps the message in the mailbox when it forwards or redirects it.
		rw.need("copy")
		out = append(out, "redirect :copy "+quote(ad))
		rw.redirects++
	}
	deleted := false
	if id := a.GetMoveToFolder(); id != nil {
		name, why := folder(id, "moveToFolder")
		if why != "" {
			return nil, why
		}
		rw.need("fileinto", "mailbox")
		out = append(out, "fileinto :create "+quote(name))
	}
	if isTrue(a.GetPermanentDelete()) {
		out = append(out, "discard")
		deleted = true
	} else if isTrue(a.GetDelete()) {
		trash := rw.w.opt.Trash
		if trash == "" {
			trash = "Trash"
		}
		rw.need("fileinto", "mailbox")
		out = append(out, "fileinto :create "+quote(trash))
	}
	if deleted && a.GetMoveToFolder() != nil {
		rw.warnings = append(rw.warnings, "moveToFolder with permanentDelete: the message is filed, then the discard cancels only the implicit keep")
	}
	if isTrue(a.GetStopProcessingRules()) {
		out = append(out, "stop")
	}
	return out, ""
}

// parseJSON reads payload with kiota's JSON parse node into the SDK's model made by ctor.
// The parse node is third-party code fed with outside input, so a panic inside it becomes
// an error.
func parseJSON(payload []byte, ctor absser.ParsableFactory) (v absser.Parsable, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed Graph JSON: %v", r)
		}
	}()
	t := bytes.TrimSpace(payload)
	if len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("malformed Graph JSON: not an object")
	}
	node, err := jsonserialization.NewJsonParseNode(payload)
	if err != nil {
		return nil, fmt.Errorf("malformed Graph JSON: %w", err)
	}
	v, err = node.GetObjectValue(ctor)
	if err != nil {
		return nil, fmt.Errorf("malformed Graph JSON: %w", err)
	}
	if v == nil {
		return nil, fmt.Errorf("malformed Graph JSON: empty")
	}
	return v, nil
}
