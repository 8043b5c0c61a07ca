// Package audit inventories a source tenant read-only (Graph or EWS) from folder statistics
// and a few bounded, targeted queries per mailbox, and builds a Report: per mailbox its type,
// items and bytes per kind and folder, largest items, folder names needing care, groupware
// counts, rules, out-of-office, delegations, archive; tenant totals; findings with severity
// and action; and an estimate of the migration time from a throughput model (model.go).
//
// The Report type and its JSON tags ARE the documented JSON schema of `bascule audit
// --output json` and of audit.json (docs/AUDIT.md). Fields are only ever added.
package audit

import "time"

// SchemaVersion is the version of the Report JSON schema. It changes only on an
// incompatible change (a field removed or its meaning changed); added fields keep it.
const SchemaVersion = 1

// Report is the result of an audit.
type Report struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema"`
	// Tool is "bascule <version>".
	Tool string `json:"tool"`
	// Source is "graph" or "ews"; Endpoint the Graph endpoint or EWS URL (no credentials).
	Source   string `json:"source"`
	Endpoint string `json:"endpoint,omitempty"`
	// Started and Finished bound the audit (UTC).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Options are the settings that shaped the findings and estimates.
	Options Options `json:"options"`
	// Totals sums every mailbox.
	Totals Totals `json:"totals"`
	// Mailboxes, in the order the source lists them.
	Mailboxes []Mailbox `json:"mailboxes"`
	// Findings are every mailbox's findings plus tenant-wide ones (Mailbox ""), blocking
	// first, then warning, then info.
	Findings []Finding `json:"findings"`
	// Estimate is the migration time of the whole tenant under Options.
	Estimate TenantEstimate `json:"estimate"`
	// Requests is the number of requests the audit sent to the source (all mailboxes).
	Requests int64 `json:"requests"`
}

// Options are the audit's settings as the report records them.
type Options struct {
	// TargetMaxMessageSize is the largest message the target accepts, in bytes (0 = no limit
	// checked).
	TargetMaxMessageSize int64 `json:"target_max_message_size"`
	// MailboxParallel and ItemParallel are the migration concurrency the estimate assumes
	// (migrate's --mailbox-parallel and --item-parallel).
	MailboxParallel int `json:"mailbox_parallel"`
	ItemParallel    int `json:"item_parallel"`
	// LargestItems is how many of the largest items are listed per mailbox.
	LargestItems int `json:"largest_items"`
	// Model names the throughput model's calibration (see Throughput).
	Model Throughput `json:"model"`
}

// Severity of a finding.
type Severity string

const (
	// Info: nothing to do, worth knowing.
	Info Severity = "info"
	// Warning: the migration will run, but something needs a decision or a manual step.
	Warning Severity = "warning"
	// Blocking: the migration of this mailbox (or item) will fail or lose data unless the
	// action is taken first.
	Blocking Severity = "blocking"
)

// Finding is one thing the people in charge should know, with the action it needs.
type Finding struct {
	// Code is a stable identifier (e.g. "item-over-target-limit"); docs/AUDIT.md lists them.
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Mailbox is the address concerned ("" = tenant-wide).
	Mailbox string `json:"mailbox,omitempty"`
	// Subject is what the finding is about: a folder path, an item subject, a rule name.
	Subject string `json:"subject,omitempty"`
	// Count is how many things the finding covers (1 when it is about one thing).
	Count int64 `json:"count,omitempty"`
	// Message says what was found; Action what to do (English; reports translate by Code).
	Message string `json:"message"`
	Action  string `json:"action,omitempty"`
}

// Totals are sums over mailboxes.
type Totals struct {
	Mailboxes int `json:"mailboxes"`
	// ByType counts mailboxes per type (user, shared, room, equipment, unknown).
	ByType map[string]int `json:"by_type"`
	// Kinds: items and bytes per kind (mail, calendar, contacts, tasks, other).
	Kinds map[string]KindStats `json:"kinds"`
	// Items and Bytes sum every kind.
	Items int64 `json:"items"`
	Bytes int64 `json:"bytes"`
	// Folders is the number of mail folders.
	Folders int `json:"folders"`
	// Archives counts mailboxes with an archive mailbox.
	Archives int `json:"archives"`
	// OverLimit counts items larger than the target's limit.
	OverLimit int64 `json:"over_limit"`
	// Series and Exceptions count recurring event series and their modified occurrences.
	Series     int64 `json:"series"`
	Exceptions int64 `json:"exceptions"`
	// Rules: total, those Sieve can carry, those that need a manual action.
	Rules         int `json:"rules"`
	RulesToSieve  int `json:"rules_to_sieve"`
	RulesManual   int `json:"rules_manual"`
	AutoReplyOn   int `json:"auto_reply_on"`
	DelegationsIn int `json:"delegations_in"`
	// DelegationsOut counts grants mailboxes give to others.
	DelegationsOut int `json:"delegations_out"`
	// Findings counts findings per severity.
	Findings map[Severity]int `json:"findings"`
	// MailboxSizes is the distribution of mailbox sizes (total bytes), for the charts:
	// fixed buckets 0–100 MB, 100 MB–1 GB, 1–10 GB, 10–50 GB, over 50 GB.
	MailboxSizes []Bucket `json:"mailbox_sizes"`
}

// Bucket is one bar of a distribution: mailboxes whose total lies in [Min, Max) bytes
// (Max 0 = no upper bound).
type Bucket struct {
	Min   int64 `json:"min"`
	Max   int64 `json:"max"`
	Count int   `json:"count"`
}

// Kind names of KindStats maps.
const (
	KindMail     = "mail"
	KindCalendar = "calendar"
	KindContacts = "contacts"
	KindTasks    = "tasks"
	// KindOther: folders of the mail tree holding neither mail nor groupware known to
	// Bascule (notes, journal, …): counted, not migrated.
	KindOther = "other"
)

// KindStats are the items and bytes of one kind. Bytes is 0 when the source does not report
// a size for that kind (Graph gives sizes for mail folders only).
type KindStats struct {
	Items int64 `json:"items"`
	Bytes int64 `json:"bytes"`
	// Folders is the number of folders / collections of this kind.
	Folders int `json:"folders"`
}

// Mailbox is the audit of one mailbox.
type Mailbox struct {
	Address     string `json:"address"`
	DisplayName string `json:"display_name,omitempty"`
	// Type is user, shared, room, equipment or "" when the source does not say.
	Type string `json:"type"`
	// Archive is set when the mailbox has an online archive (In-Place Archive).
	Archive bool `json:"archive"`
	// ArchiveItems and ArchiveBytes size the archive when the source reports them.
	ArchiveItems int64 `json:"archive_items,omitempty"`
	ArchiveBytes int64 `json:"archive_bytes,omitempty"`
	// QuotaBytes is the mailbox's storage quota when the source reports it (0 = unknown).
	QuotaBytes int64 `json:"quota_bytes,omitempty"`
	// Kinds: items and bytes per kind (KindMail, KindCalendar, …).
	Kinds map[string]KindStats `json:"kinds"`
	Items int64                `json:"items"`
	Bytes int64                `json:"bytes"`
	// Folders are every folder of the mailbox (mail folders and groupware collections).
	Folders []Folder `json:"folders"`
	// MaxDepth is the deepest mail folder (top level = 1).
	MaxDepth int `json:"max_depth"`
	// Largest are the largest mail items, largest first (bounded by Options.LargestItems).
	Largest []Item `json:"largest"`
	// OverLimit counts the mail items over Options.TargetMaxMessageSize (a lower bound when
	// OverLimitCapped: the count query is bounded, see docs/AUDIT.md).
	OverLimit       int64 `json:"over_limit"`
	OverLimitCapped bool  `json:"over_limit_capped,omitempty"`
	// Series and Exceptions: recurring event series and modified occurrences.
	Series     int64 `json:"series"`
	Exceptions int64 `json:"exceptions"`
	// Contacts and Tasks count items (also in Kinds) for the summary.
	Contacts int64 `json:"contacts"`
	Tasks    int64 `json:"tasks"`
	// Rules: every inbox rule and whether Sieve carries it.
	Rules []Rule `json:"rules"`
	// AutoReply is the out-of-office status: disabled, alwaysEnabled or scheduled ("" unknown).
	AutoReply string `json:"auto_reply,omitempty"`
	// AutoReplyEnd is the end of a scheduled reply.
	AutoReplyEnd *time.Time `json:"auto_reply_end,omitempty"`
	// DelegationsOut are the grants this mailbox gives; DelegationsIn those it receives
	// (from other audited mailboxes).
	DelegationsOut []Delegation `json:"delegations_out"`
	DelegationsIn  []Delegation `json:"delegations_in"`
	// Estimate is the migration time of this mailbox alone.
	Estimate Estimate `json:"estimate"`
	// Requests is the number of requests the audit of this mailbox sent (0 when the source
	// does not count them per mailbox; the emulators do).
	Requests int64 `json:"requests"`
	// Error is set when the mailbox could not be audited (the rest of the report is partial).
	Error string `json:"error,omitempty"`
}

// Folder is one mail folder or groupware collection.
type Folder struct {
	// Path is the display path ("/"-joined names are ambiguous: names may hold '/').
	Path []string `json:"path"`
	// Kind is KindMail, KindCalendar, KindContacts, KindTasks or KindOther.
	Kind string `json:"kind"`
	// WellKnown is the folder's well-known role (inbox, sentitems, …) or "".
	WellKnown string `json:"well_known,omitempty"`
	Items     int64  `json:"items"`
	// Bytes is the folder's size when the source reports it (0 otherwise).
	Bytes int64 `json:"bytes"`
	// Depth is len(Path).
	Depth int `json:"depth"`
	// Care lists why the name needs care on the target (see NameIssue*), empty if none.
	Care []string `json:"care,omitempty"`
}

// Reasons a folder name needs care on an IMAP target.
const (
	// NameSeparator: the name holds '/' or '.', a hierarchy separator on IMAP servers; it is
	// escaped (Bascule replaces it), so the name on the target differs.
	NameSeparator = "separator"
	// NameControl: control characters, which IMAP servers refuse.
	NameControl = "control-character"
	// NameLong: the name is longer than 255 bytes of UTF-8, or the path longer than 1,024:
	// Dovecot's and Cyrus's limits.
	NameLong = "too-long"
	// NameCaseDuplicate: another folder of the same parent has the same name after case
	// folding (case-insensitive targets merge them).
	NameCaseDuplicate = "case-duplicate"
	// NameEdgeSpace: leading or trailing spaces, or a leading '~' / trailing '.', which some
	// servers or clients trim.
	NameEdgeSpace = "edge-space"
	// NameDeep: deeper than the target's usual limit (MaxFolderDepth).
	NameDeep = "deep"
)

// Item is one large mail item.
type Item struct {
	Subject string `json:"subject"`
	// Folder is the display path of its folder.
	Folder   []string  `json:"folder"`
	Bytes    int64     `json:"bytes"`
	Received time.Time `json:"received,omitzero"`
}

// Rule is one inbox rule and how it carries.
type Rule struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Sieve is true when transform/sieve carries the whole rule; otherwise Reason says which
	// part has no faithful Sieve form.
	Sieve  bool   `json:"sieve"`
	Reason string `json:"reason,omitempty"`
}

// Delegation is one grant between mailboxes.
type Delegation struct {
	// Owner grants, Grantee receives.
	Owner   string `json:"owner"`
	Grantee string `json:"grantee"`
	// Scope is model.GrantScope (mailbox, folder, calendar, contacts, sendas, sendonbehalf).
	Scope string `json:"scope"`
	// Folder is the folder or collection concerned, when Scope is not mailbox-wide.
	Folder string `json:"folder,omitempty"`
	Role   string `json:"role"`
	// Origin says where it was read (Graph calendarPermissions, an Exchange CSV export line).
	Origin string `json:"origin,omitempty"`
}

// Estimate is a migration time from the throughput model.
type Estimate struct {
	// Seconds is the wall time estimated for this mailbox with the configured item
	// concurrency, never faster than Microsoft's per-mailbox request budget allows.
	Seconds float64 `json:"seconds"`
	// Requests is the number of source requests the migration needs (a lower bound).
	Requests int64 `json:"requests"`
	// Bound says what limits it: "bytes", "items" or "request-budget".
	Bound string `json:"bound"`
}

// TenantEstimate is the whole tenant's migration time.
type TenantEstimate struct {
	// Seconds: mailboxes spread over MailboxParallel lanes (longest first), each at its
	// own Estimate, also bounded by the machine's aggregate throughput.
	Seconds float64 `json:"seconds"`
	// LongestMailbox is the address of the mailbox with the largest estimate (it bounds
	// the whole run however many lanes there are) and LongestSeconds its estimate.
	LongestMailbox string  `json:"longest_mailbox,omitempty"`
	LongestSeconds float64 `json:"longest_seconds"`
	// Bound says what limits it: "machine" (the aggregate throughput) or "mailbox" (the
	// longest mailbox, through its request budget or item rate).
	Bound string `json:"bound"`
}

// Throughput is the calibration of the estimate model (model.go holds the defaults and
// their source).
type Throughput struct {
	// MessagesPerSecond and BytesPerSecond are the aggregate rates of one Bascule process
	// on the calibration machine (make bench, Graph emulator → Dovecot).
	MessagesPerSecond float64 `json:"messages_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
	// GroupwarePerSecond is the rate of events/contacts/tasks (CalDAV/CardDAV PUTs).
	GroupwarePerSecond float64 `json:"groupware_per_second"`
	// MailboxRequestsPerSecond is Microsoft's per-mailbox budget (10,000 requests per 10
	// minutes per app → 16.67/s); MailboxConcurrency its concurrent-request limit (4).
	MailboxRequestsPerSecond float64 `json:"mailbox_requests_per_second"`
	MailboxConcurrency       int     `json:"mailbox_concurrency"`
	// PerItemLatency is the source round trip one body fetch costs at the per-mailbox
	// concurrency (seconds).
	PerItemLatency float64 `json:"per_item_latency"`
	// Source names where the figures come from.
	Source string `json:"source"`
}
