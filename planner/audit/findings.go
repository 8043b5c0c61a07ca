package audit

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of IMAP targets that folder names are checked against.
const (
	// MaxNameBytes is the longest folder name (one level, UTF-8) Dovecot and Cyrus take.
	MaxNameBytes = 255
	// MaxPathBytes is the longest full mailbox name; Cyrus's limit (MAX_MAILBOX_NAME 490)
	// in modified UTF-7 is lower than Dovecot's, so a margin is kept on UTF-8 length.
	MaxPathBytes = 490
	// MaxFolderDepth is the depth over which a folder gets a warning: IMAP servers accept
	// deeper trees, but many clients show them badly and path lengths grow near the limits.
	MaxFolderDepth = 16
)

// markNames sets Care on the mail folders whose names need care on an IMAP target.
func markNames(fs []Folder) {
	type key struct{ parent, name string }
	seen := map[key][]int{}
	for i := range fs {
		f := &fs[i]
		if f.Kind != KindMail || len(f.Path) == 0 {
			continue
		}
		name := f.Path[len(f.Path)-1]
		if strings.ContainsAny(name, "/.") {
			f.Care = append(f.Care, NameSeparator)
		}
		if strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
			f.Care = append(f.Care, NameControl)
		}
		if len(name) > MaxNameBytes || len(strings.Join(f.Path, "/")) > MaxPathBytes {
			f.Care = append(f.Care, NameLong)
		}
		if name != strings.TrimSpace(name) || strings.HasPrefix(name, "~") || strings.HasSuffix(name, ".") {
			f.Care = append(f.Care, NameEdgeSpace)
		}
		if f.Depth > MaxFolderDepth {
			f.Care = append(f.Care, NameDeep)
		}
		k := key{strings.ToLower(strings.Join(f.Path[:len(f.Path)-1], "\x00")), strings.ToLower(name)}
		seen[k] = append(seen[k], i)
	}
	for _, idx := range seen {
		if len(idx) > 1 {
			for _, i := range idx {
				fs[i].Care = append(fs[i].Care, NameCaseDuplicate)
			}
		}
	}
}

// Finding codes (docs/AUDIT.md lists them with their actions).
const (
	CodeMailboxError     = "mailbox-error"
	CodeOverLimit        = "item-over-target-limit"
	CodeOverLimitUnknown = "over-limit-unknown"
	CodeLargeItems       = "large-items"
	CodeFolderName       = "folder-name"
	CodeFolderNameLong   = "folder-name-too-long"
	CodeFolderCaseDup    = "folder-case-duplicate"
	CodeFolderDeep       = "folder-deep"
	CodeRuleNotSieve     = "rule-not-sieve"
	CodeAutoReply        = "auto-reply-active"
	CodeArchive          = "archive-mailbox"
	CodeSharedMailbox    = "shared-mailbox"
	CodeResourceMailbox  = "resource-mailbox"
	CodeDelegations      = "delegations"
	CodeExternalGrantee  = "grantee-not-audited"
	CodeBudgetBound      = "request-budget-bound"
	CodeTenantEstimate   = "tenant-estimate"
	CodeSendAsDelegation = "send-as"
)

// Findings derives every finding from an assembled report, most severe first.
func Findings(rep *Report, targetMax int64) []Finding {
	var out []Finding
	add := func(f Finding) { out = append(out, f) }
	audited := map[string]bool{}
	for _, m := range rep.Mailboxes {
		audited[strings.ToLower(m.Address)] = true
	}
	for _, m := range rep.Mailboxes {
		a := m.Address
		if m.Error != "" {
			add(Finding{Code: CodeMailboxError, Severity: Blocking, Mailbox: a, Count: 1,
				Message: "the mailbox could not be audited: " + m.Error,
				Action:  "fix the cause (permissions, mailbox not enabled) and run the audit again for this mailbox (--mailbox)"})
		}
		if m.OverLimit > 0 {
			msg := fmt.Sprintf("%d item(s) larger than the target's limit of %s", m.OverLimit, human(targetMax))
			if m.OverLimitCapped {
				msg = fmt.Sprintf("at least %d item(s) larger than the target's limit of %s", m.OverLimit, human(targetMax))
			}
			add(Finding{Code: CodeOverLimit, Severity: Blocking, Mailbox: a, Count: m.OverLimit, Message: msg,
				Action: "raise the target's message size limit (Dovecot: quota_max_mail_size of the quota plugin; Cyrus: maxmessagesize in imapd.conf) or have the owner remove or archive these items; otherwise they are reported as failed"})
		}
		if m.OverLimit == 0 && m.OverLimitCapped && targetMax > 0 && m.Error == "" {
			add(Finding{Code: CodeOverLimitUnknown, Severity: Warning, Mailbox: a, Count: 1,
				Message: "the source did not answer the size query: items over the target's limit are not known",
				Action:  "check the mailbox's largest items on Exchange (Get-MailboxFolderStatistics -IncludeAnalysis: TopSubjectSize)"})
		}
		if n := len(m.Largest); n > 0 && m.OverLimit == 0 {
			add(Finding{Code: CodeLargeItems, Severity: Info, Mailbox: a, Count: int64(n), Subject: m.Largest[0].Subject,
				Message: fmt.Sprintf("largest item %s; %d large items listed", human(m.Largest[0].Bytes), n)})
		}
		for _, f := range m.Folders {
			path := strings.Join(f.Path, " › ")
			for _, c := range f.Care {
				switch c {
				case NameLong:
					add(Finding{Code: CodeFolderNameLong, Severity: Blocking, Mailbox: a, Subject: path, Count: 1,
						Message: "folder name or path longer than IMAP servers accept",
						Action:  "rename the folder on the source before the migration"})
				case NameCaseDuplicate:
					add(Finding{Code: CodeFolderCaseDup, Severity: Warning, Mailbox: a, Subject: path, Count: 1,
						Message: "another folder of the same parent has the same name in another case; a case-insensitive target merges them",
						Action:  "rename one of them on the source, or check the target is case-sensitive"})
				case NameDeep:
					add(Finding{Code: CodeFolderDeep, Severity: Warning, Mailbox: a, Subject: path, Count: 1,
						Message: fmt.Sprintf("folder %d levels deep", f.Depth),
						Action:  "check that the target and its clients handle the depth, or flatten the tree on the source"})
				default:
					add(Finding{Code: CodeFolderName, Severity: Info, Mailbox: a, Subject: path, Count: 1,
						Message: "folder name holds " + c + " characters; Bascule escapes them, so the name differs on the target"})
				}
			}
		}
		for _, r := range m.Rules {
			if !r.Sieve {
				add(Finding{Code: CodeRuleNotSieve, Severity: Warning, Mailbox: a, Subject: r.Name, Count: 1,
					Message: "inbox rule has no faithful Sieve form: " + r.Reason,
					Action:  "recreate the rule by hand on the target (it is listed as a manual action after the migration)"})
			}
		}
		if m.AutoReply != "" && !strings.EqualFold(m.AutoReply, "disabled") {
			add(Finding{Code: CodeAutoReply, Severity: Info, Mailbox: a, Count: 1,
				Message: "out-of-office is " + m.AutoReply + "; it is carried as a Sieve vacation"})
		}
		if m.Archive {
			add(Finding{Code: CodeArchive, Severity: Warning, Mailbox: a, Count: 1,
				Message: "the mailbox has an online archive, which the primary mailbox's migration does not carry",
				Action:  "decide whether the archive moves: migrate it separately (EWS archive root) or export it"})
		}
		switch strings.ToLower(m.Type) {
		case "shared":
			add(Finding{Code: CodeSharedMailbox, Severity: Info, Mailbox: a, Count: 1,
				Message: "shared mailbox: it needs a target account and its users need rights on it",
				Action:  "create the shared account on the target; the permissions found are applied as ACLs"})
		case "room", "equipment":
			add(Finding{Code: CodeResourceMailbox, Severity: Warning, Mailbox: a, Count: 1,
				Message: m.Type + " mailbox: booking policies (auto-accept, delegates) have no standard target form",
				Action:  "set up the resource's scheduling on the target (CalDAV scheduling / resource account) by hand"})
		}
		if n := len(m.DelegationsOut) + len(m.DelegationsIn); n > 0 {
			add(Finding{Code: CodeDelegations, Severity: Info, Mailbox: a, Count: int64(n),
				Message: fmt.Sprintf("%d delegations given, %d received", len(m.DelegationsOut), len(m.DelegationsIn)),
				Action:  "migrate the linked mailboxes in the same wave (bascule plan groups them)"})
		}
		ext := 0
		sendAs := 0
		for _, d := range m.DelegationsOut {
			g := strings.ToLower(d.Grantee)
			if g != "default" && g != "anonymous" && !audited[g] {
				ext++
			}
			if d.Scope == "sendas" || d.Scope == "sendonbehalf" {
				sendAs++
			}
		}
		if ext > 0 {
			add(Finding{Code: CodeExternalGrantee, Severity: Warning, Mailbox: a, Count: int64(ext),
				Message: fmt.Sprintf("%d grant(s) name a grantee outside the audited mailboxes (group, orphaned SID, other tenant)", ext),
				Action:  "map the grantee to a target login or accept that the grant becomes a manual action"})
		}
		if sendAs > 0 {
			add(Finding{Code: CodeSendAsDelegation, Severity: Warning, Mailbox: a, Count: int64(sendAs),
				Message: fmt.Sprintf("%d send-as / send-on-behalf right(s); IMAP targets have no such right", sendAs),
				Action:  "configure the MTA's sender login map (e.g. Postfix smtpd_sender_login_maps) for these delegates"})
		}
		if m.Estimate.Bound == "request-budget" {
			add(Finding{Code: CodeBudgetBound, Severity: Warning, Mailbox: a, Count: m.Estimate.Requests,
				Message: fmt.Sprintf("Microsoft's per-mailbox request budget bounds this mailbox: about %s", duration(m.Estimate.Seconds)),
				Action:  "start it in an early wave and finish with a delta pass (bascule sync) at cutover"})
		}
	}
	if rep.Estimate.Seconds > 0 {
		add(Finding{Code: CodeTenantEstimate, Severity: Info, Count: int64(len(rep.Mailboxes)),
			Message: fmt.Sprintf("estimated migration time %s with %d mailboxes in parallel (bound: %s; longest mailbox %s, %s)",
				duration(rep.Estimate.Seconds), rep.Options.MailboxParallel, rep.Estimate.Bound, rep.Estimate.LongestMailbox, duration(rep.Estimate.LongestSeconds))})
	}
	rank := map[Severity]int{Blocking: 0, Warning: 1, Info: 2}
	slices.SortStableFunc(out, func(a, b Finding) int { return rank[a.Severity] - rank[b.Severity] })
	return out
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func duration(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.0f s", s)
}
