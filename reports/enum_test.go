package reports

// enumDomains lists the run-time translated codes of the audit, plan and verify reports
// (filled in as they land).
func enumDomains() map[string][]string {
	return map[string][]string{}
}
