// Package waves groups mailboxes into migration waves: mailboxes linked by a delegation or
// shared-mailbox access go in the same wave (the connected components of the permission
// graph are never split), waves are balanced by estimated migration time and bounded by a
// cutover window, and waves pinned in the mapping file are honoured.
//
// The Plan type, with its JSON and YAML tags, IS the documented schema of plan.yaml and of
// `bascule plan --output json` (docs/PLANNING.md). Fields are only ever added.
package waves

import "time"

// SchemaVersion is the version of the Plan schema. It changes only on an incompatible
// change (a field removed or its meaning changed); added fields keep it.
const SchemaVersion = 1

// Plan is a migration split into waves, with its schedule.
type Plan struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema" yaml:"schema"`
	// Tool is "bascule <version>"; Generated when the plan was made (UTC).
	Tool      string    `json:"tool" yaml:"tool"`
	Generated time.Time `json:"generated" yaml:"generated"`
	// Inputs names the files the plan was made from (audit, mapping, Exchange exports).
	Inputs Inputs `json:"inputs" yaml:"inputs"`
	// Options are the settings that shaped the waves and their schedule.
	Options Options `json:"options" yaml:"options"`
	// Totals sum every wave.
	Totals Totals `json:"totals" yaml:"totals"`
	// Waves in order: wave 1 first. Every mapped mailbox is in exactly one wave.
	Waves []Wave `json:"waves" yaml:"waves"`
	// Groups are the connected components of the permission graph with more than one
	// mailbox (the delegation groups), each wholly inside one wave.
	Groups []Group `json:"groups" yaml:"groups"`
	// Edges are the links between mapped mailboxes the groups were built from (the
	// delegation graph).
	Edges []Edge `json:"edges" yaml:"edges"`
	// Findings say what the plan could not do as asked (a group larger than the window, a
	// pinned wave over it, links to mailboxes outside the mapping) and what to do.
	Findings []Finding `json:"findings" yaml:"findings"`
}

// Inputs are the files a plan was made from ("" when not used).
type Inputs struct {
	Audit          string `json:"audit,omitempty" yaml:"audit,omitempty"`
	Mapping        string `json:"mapping" yaml:"mapping"`
	ExchangeCSVDir string `json:"exchange_csv_dir,omitempty" yaml:"exchange_csv_dir,omitempty"`
}

// Options are the planning settings as the plan records them.
type Options struct {
	// Start is when wave 1 starts (RFC 3339).
	Start time.Time `json:"start" yaml:"start"`
	// WindowSeconds is the cutover window every wave must fit in (0 = no bound).
	WindowSeconds float64 `json:"window_seconds" yaml:"window_seconds"`
	// EverySeconds is the time between the starts of two waves (0 = each wave starts when
	// the one before is estimated to end).
	EverySeconds float64 `json:"every_seconds" yaml:"every_seconds"`
	// Workers is the number of bascule processes (machines) sharing a wave, and
	// MailboxParallel the mailboxes each migrates at once: Workers × MailboxParallel
	// mailboxes are migrated at the same time.
	Workers         int `json:"workers" yaml:"workers"`
	MailboxParallel int `json:"mailbox_parallel" yaml:"mailbox_parallel"`
	// MaxWaveMailboxes caps the mailboxes of a wave (0 = no cap).
	MaxWaveMailboxes int `json:"max_wave_mailboxes,omitempty" yaml:"max_wave_mailboxes,omitempty"`
	// MinWaves is the least number of waves asked for (0 = as few as fit).
	MinWaves int `json:"min_waves,omitempty" yaml:"min_waves,omitempty"`
	// BytesPerSecond and ItemsPerSecond are one worker's aggregate throughput (0 = not
	// bounded): a wave also lasts at least its bytes (items) over Workers × this rate.
	BytesPerSecond float64 `json:"bytes_per_second,omitempty" yaml:"bytes_per_second,omitempty"`
	ItemsPerSecond float64 `json:"items_per_second,omitempty" yaml:"items_per_second,omitempty"`
	// Sized is false when no audit gave sizes: durations are then unknown (zero) and waves
	// are balanced by mailbox count.
	Sized bool `json:"sized" yaml:"sized"`
}

// Totals of a plan.
type Totals struct {
	Waves     int   `json:"waves" yaml:"waves"`
	Mailboxes int   `json:"mailboxes" yaml:"mailboxes"`
	Items     int64 `json:"items" yaml:"items"`
	Bytes     int64 `json:"bytes" yaml:"bytes"`
	// Groups counts the delegation groups (components with more than one mailbox).
	Groups int `json:"groups" yaml:"groups"`
	// Start of wave 1 and End of the last wave's estimate.
	Start time.Time `json:"start" yaml:"start"`
	End   time.Time `json:"end" yaml:"end"`
}

// Wave is one batch of mailboxes migrated (and cut over) together.
type Wave struct {
	// Number is 1-based: `bascule migrate --plan plan.yaml --wave N`.
	Number int `json:"number" yaml:"number"`
	// Start and End are the estimated schedule; DurationSeconds = End − Start.
	Start           time.Time `json:"start" yaml:"start"`
	End             time.Time `json:"end" yaml:"end"`
	DurationSeconds float64   `json:"duration_seconds" yaml:"duration_seconds"`
	// Items and Bytes sum the wave's mailboxes.
	Items int64 `json:"items" yaml:"items"`
	Bytes int64 `json:"bytes" yaml:"bytes"`
	// Pinned is set when the mapping file pins at least one mailbox to this wave.
	Pinned bool `json:"pinned,omitempty" yaml:"pinned,omitempty"`
	// OverWindow is set when the wave's estimate exceeds the window (a finding says why).
	OverWindow bool `json:"over_window,omitempty" yaml:"over_window,omitempty"`
	// Mailboxes of the wave, the longest first.
	Mailboxes []Mailbox `json:"mailboxes" yaml:"mailboxes"`
}

// Mailbox is one mapped mailbox in a wave.
type Mailbox struct {
	// Source is the source address; Target the target login. A password the mapping file
	// holds is never written to a plan: `migrate --plan` reads it from the mapping file.
	Source string `json:"source" yaml:"source"`
	Target string `json:"target" yaml:"target"`
	// Type is user, shared, room, equipment or "" when unknown.
	Type  string `json:"type,omitempty" yaml:"type,omitempty"`
	Items int64  `json:"items" yaml:"items"`
	Bytes int64  `json:"bytes" yaml:"bytes"`
	// EstimateSeconds is the mailbox's own migration time (the audit's estimate).
	EstimateSeconds float64 `json:"estimate_seconds" yaml:"estimate_seconds"`
	// Group is the index in Plan.Groups of the mailbox's delegation group, or -1 when the
	// mailbox is linked to no other mapped mailbox.
	Group int `json:"group" yaml:"group"`
	// Line is the mailbox's line in the mapping file; PinnedWave the wave it pins (0 = none).
	Line       int `json:"line" yaml:"line"`
	PinnedWave int `json:"pinned_wave,omitempty" yaml:"pinned_wave,omitempty"`
	// Flags are the mapping file's Flags column, as written.
	Flags string `json:"flags,omitempty" yaml:"flags,omitempty"`
}

// Group is a connected component of the permission graph (more than one mailbox).
type Group struct {
	// ID is the group's index in Plan.Groups; Wave the wave holding it.
	ID   int `json:"id" yaml:"id"`
	Wave int `json:"wave" yaml:"wave"`
	// Mailboxes are the source addresses, sorted.
	Mailboxes       []string `json:"mailboxes" yaml:"mailboxes"`
	Items           int64    `json:"items" yaml:"items"`
	Bytes           int64    `json:"bytes" yaml:"bytes"`
	EstimateSeconds float64  `json:"estimate_seconds" yaml:"estimate_seconds"`
}

// EdgeKind says what links two mailboxes.
type EdgeKind string

const (
	// EdgeFullAccess: the grantee opens the owner's whole mailbox (a shared mailbox's
	// members, an assistant).
	EdgeFullAccess EdgeKind = "fullaccess"
	// EdgeSendAs and EdgeSendOnBehalf: the grantee sends as / on behalf of the owner.
	EdgeSendAs       EdgeKind = "sendas"
	EdgeSendOnBehalf EdgeKind = "sendonbehalf"
	// EdgeFolder: a permission on one mail folder.
	EdgeFolder EdgeKind = "folder"
	// EdgeCalendar and EdgeContacts: a calendar or contacts delegation.
	EdgeCalendar EdgeKind = "calendar"
	EdgeContacts EdgeKind = "contacts"
	// EdgeOther: any other link a source reports.
	EdgeOther EdgeKind = "other"
)

// Edge is a link between two mailboxes: Owner grants Grantee a right of Kind.
type Edge struct {
	Owner   string   `json:"owner" yaml:"owner"`
	Grantee string   `json:"grantee" yaml:"grantee"`
	Kind    EdgeKind `json:"kind" yaml:"kind"`
	// Role is the role as the source names it (Editor, Reviewer, FullAccess…).
	Role string `json:"role,omitempty" yaml:"role,omitempty"`
}

// Severity of a finding (the audit's scale).
type Severity string

const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Blocking Severity = "blocking"
)

// Finding is something the plan could not do as asked, with the action it needs.
type Finding struct {
	// Code is a stable identifier; docs/PLANNING.md lists them.
	Code     string   `json:"code" yaml:"code"`
	Severity Severity `json:"severity" yaml:"severity"`
	// Wave concerned (0 = the whole plan); Mailboxes concerned (source addresses).
	Wave      int      `json:"wave,omitempty" yaml:"wave,omitempty"`
	Mailboxes []string `json:"mailboxes,omitempty" yaml:"mailboxes,omitempty"`
	Message   string   `json:"message" yaml:"message"`
	Action    string   `json:"action,omitempty" yaml:"action,omitempty"`
}

// Finding codes.
const (
	// FindingGroupOverWindow: a delegation group alone takes longer than the window; it
	// is not split, its wave is over the window.
	FindingGroupOverWindow = "group-over-window"
	// FindingGroupOverCap: a delegation group has more mailboxes than --max-wave-mailboxes.
	FindingGroupOverCap = "group-over-cap"
	// FindingPinnedOverWindow: the mailboxes pinned to a wave take longer than the window.
	FindingPinnedOverWindow = "pinned-wave-over-window"
	// FindingPinnedOverCap: more mailboxes pinned to a wave than --max-wave-mailboxes.
	FindingPinnedOverCap = "pinned-wave-over-cap"
	// FindingUnmappedLink: a mapped mailbox is linked to a mailbox the mapping does not
	// list (it stays where it is, the link crosses the cutover).
	FindingUnmappedLink = "link-to-unmapped-mailbox"
	// FindingUnsized: no audit: durations unknown, waves balanced by mailbox count.
	FindingUnsized = "no-sizes"
	// FindingEmptyWave: a wave number the pins skipped over holds no mailbox.
	FindingEmptyWave = "empty-wave"
	// FindingOverlap: with --every, a wave starts before the one before it is estimated
	// to end.
	FindingOverlap = "waves-overlap"
	// FindingExportProblem: a line of Exchange's permission exports could not be read or
	// resolved (a link may be missing).
	FindingExportProblem = "exchange-export-problem"
)

// Wave returns wave n (1-based) or nil.
func (p *Plan) Wave(n int) *Wave {
	for i := range p.Waves {
		if p.Waves[i].Number == n {
			return &p.Waves[i]
		}
	}
	return nil
}
