package reports

import (
	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/waves"
)

// enumDomains lists the codes of the audit, plan and verify reports translated at run time.
func enumDomains() map[string][]string {
	return map[string][]string{
		"severity.":  {string(audit.Blocking), string(audit.Warning), string(audit.Info)},
		"mbtype.":    {"user", "shared", "room", "equipment", "unknown"},
		"autoreply.": {"disabled", "alwaysEnabled", "scheduled"},
		"bound.":     {"bytes", "items", "request-budget", "machine", "mailbox"},
		"scope.":     {"mailbox", "folder", "calendar", "contacts", "sendas", "sendonbehalf"},
		"care.":      {audit.NameSeparator, audit.NameControl, audit.NameLong, audit.NameCaseDuplicate, audit.NameEdgeSpace, audit.NameDeep},
		"source.":    {"graph", "ews"},
		"kind.":      {audit.KindOther},
		"diff.":      diffCodes(),
		"edge.": {string(waves.EdgeFullAccess), string(waves.EdgeSendAs), string(waves.EdgeSendOnBehalf), string(waves.EdgeFolder),
			string(waves.EdgeCalendar), string(waves.EdgeContacts), string(waves.EdgeOther)},
	}
}

// findingCodes are the finding codes a report translates (finding.<code> or its plural forms).
func findingCodes() map[string][]string {
	return map[string][]string{
		"finding.": {audit.CodeMailboxError, audit.CodeOverLimit, audit.CodeLargeItems, audit.CodeFolderName, audit.CodeFolderNameLong,
			audit.CodeFolderCaseDup, audit.CodeFolderDeep, audit.CodeRuleNotSieve, audit.CodeAutoReply, audit.CodeArchive, audit.CodeSharedMailbox,
			audit.CodeResourceMailbox, audit.CodeDelegations, audit.CodeExternalGrantee, audit.CodeBudgetBound, audit.CodeTenantEstimate,
			audit.CodeSendAsDelegation, audit.CodeOverLimitUnknown},
		"planfinding.": {waves.FindingGroupOverWindow, waves.FindingGroupOverCap, waves.FindingPinnedOverWindow, waves.FindingPinnedOverCap,
			waves.FindingUnmappedLink, waves.FindingUnsized, waves.FindingEmptyWave, waves.FindingOverlap, waves.FindingExportProblem},
	}
}

func diffCodes() []string {
	var out []string
	for _, k := range diffKinds {
		out = append(out, string(k))
	}
	return out
}
