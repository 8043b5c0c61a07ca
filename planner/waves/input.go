package waves

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/planner/audit"
)

// Inventory is what is known of the source before planning: its mailboxes with their
// sizes and estimates, and the links between them.
type Inventory struct {
	// Sized is set when the mailboxes carry sizes and estimates (from an audit).
	Sized bool
	// Mailboxes by lower-case address; nil when no directory is known (then any mapped
	// address is accepted).
	Mailboxes map[string]Mailbox
	// Edges link mailboxes (owner grants grantee).
	Edges []Edge
}

// AddMailbox records a mailbox of the source (Source is its address).
func (inv *Inventory) AddMailbox(m Mailbox) {
	if inv.Mailboxes == nil {
		inv.Mailboxes = map[string]Mailbox{}
	}
	inv.Mailboxes[strings.ToLower(m.Source)] = m
}

// AddGrants adds the links that grants make: every grant from a mailbox to a person
// (not Default, Anonymous, a deny entry or the None role).
func (inv *Inventory) AddGrants(grants []model.Grant) {
	for _, g := range grants {
		if e, ok := edgeOf(g.Owner, g.Grantee, string(g.Scope), g.Role, g.Deny); ok {
			inv.Edges = append(inv.Edges, e)
		}
	}
}

func edgeOf(owner, grantee, scope, role string, deny bool) (Edge, bool) {
	if deny || owner == "" || grantee == "" || strings.EqualFold(owner, grantee) ||
		grantee == model.GranteeDefault || grantee == model.GranteeAnonymous || strings.EqualFold(role, "None") {
		return Edge{}, false
	}
	return Edge{Owner: owner, Grantee: grantee, Kind: KindOf(scope, role), Role: role}, true
}

// Links returns the edges between mailboxes: both ends mailboxes of the inventory when
// it has a directory, else both ends addresses. Grants to a group, an orphaned SID or an
// outside address link no mailbox to move (Exchange's exports report the first two).
func (inv *Inventory) Links() []Edge {
	var out []Edge
	for _, e := range inv.Edges {
		if inv.isMailbox(e.Owner) && inv.isMailbox(e.Grantee) {
			out = append(out, e)
		}
	}
	return out
}

func (inv *Inventory) isMailbox(a string) bool {
	if inv.Mailboxes != nil {
		_, ok := inv.Mailboxes[strings.ToLower(a)]
		return ok
	}
	return strings.Contains(a, "@")
}

// KindOf maps a grant's scope (model.GrantScope) and role to the kind of link.
func KindOf(scope, role string) EdgeKind {
	switch model.GrantScope(scope) {
	case model.ScopeMailbox:
		return EdgeFullAccess
	case model.ScopeSendAs:
		return EdgeSendAs
	case model.ScopeSendOnBehalf:
		return EdgeSendOnBehalf
	case model.ScopeFolder:
		return EdgeFolder
	case model.ScopeCalendar:
		return EdgeCalendar
	case model.ScopeContacts:
		return EdgeContacts
	}
	switch strings.ToLower(role) {
	case "fullaccess":
		return EdgeFullAccess
	case "sendas":
		return EdgeSendAs
	case "sendonbehalf":
		return EdgeSendOnBehalf
	}
	return EdgeOther
}

// Throughput is one worker's aggregate rate as an audit's model states it (0 = unknown).
type Throughput struct {
	ItemsPerSecond, BytesPerSecond float64
}

// FromAudit makes the inventory from an audit: every mailbox with its type, items, bytes
// and estimate, and its delegations in and out as links. It also returns the throughput
// model the audit's estimates used. A mailbox the audit could not read (Error set) is
// kept with what the audit has.
func FromAudit(r *audit.Report) (*Inventory, Throughput) {
	inv := &Inventory{Sized: true, Mailboxes: map[string]Mailbox{}}
	for _, m := range r.Mailboxes {
		if m.Address == "" {
			continue
		}
		inv.AddMailbox(Mailbox{Source: m.Address, Type: m.Type, Items: m.Items, Bytes: m.Bytes, EstimateSeconds: m.Estimate.Seconds})
		for _, d := range append(slices.Clone(m.DelegationsOut), m.DelegationsIn...) {
			if e, ok := edgeOf(d.Owner, d.Grantee, d.Scope, d.Role, false); ok {
				inv.Edges = append(inv.Edges, e)
			}
		}
	}
	return inv, Throughput{ItemsPerSecond: r.Options.Model.MessagesPerSecond, BytesPerSecond: r.Options.Model.BytesPerSecond}
}

// ReadAudit reads an audit report (JSON, as `bascule audit --output json` writes it) and
// makes the inventory from it (FromAudit).
func ReadAudit(rd io.Reader) (*Inventory, Throughput, error) {
	var r audit.Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, Throughput{}, fmt.Errorf("not an audit report (bascule audit --output json writes them): %w", err)
	}
	if r.Schema != audit.SchemaVersion {
		return nil, Throughput{}, fmt.Errorf("audit report schema %d: this bascule reads schema %d (run the audit again with this version)", r.Schema, audit.SchemaVersion)
	}
	inv, tp := FromAudit(&r)
	return inv, tp, nil
}

// ReadMapping reads a mapping file (planner.ParseMappingLines: the migrators' CSV, BOM and
// ';' accepted) and checks it against the inventory (Mailboxes), reporting every bad line
// of both checks at once, in line order. Nothing is returned unless the whole file is
// valid.
func ReadMapping(r io.Reader, inv *Inventory) ([]Mailbox, error) {
	entries, errs := planner.ParseMappingLines(r)
	mbs, more := check(inv, entries)
	errs = append(errs, more...)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(errLine(a), errLine(b)) })
		return nil, errors.Join(errs...)
	}
	if len(mbs) == 0 {
		return nil, errors.New("the mapping file lists no mailbox")
	}
	return mbs, nil
}

func errLine(err error) int {
	var le *planner.LineError
	var pe *csv.ParseError
	switch {
	case errors.As(err, &le):
		return le.Line
	case errors.As(err, &pe):
		return pe.StartLine
	}
	return 0
}

// Mailboxes checks the mapping against the inventory, line by line, and returns the
// mapped mailboxes with their sizes: every source must be a mailbox of the inventory (when
// it has a directory), every destination login must be given, valid and used once. Every
// bad line is reported; nothing is returned unless the whole mapping is valid.
func Mailboxes(inv *Inventory, mapping []planner.MappingEntry) ([]Mailbox, error) {
	out, errs := check(inv, mapping)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("the mapping file lists no mailbox")
	}
	return out, nil
}

func lineErr(line int, format string, args ...any) error {
	return &planner.LineError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

func check(inv *Inventory, mapping []planner.MappingEntry) ([]Mailbox, []error) {
	var errs []error
	targets := map[string]int{}
	out := make([]Mailbox, 0, len(mapping))
	for _, e := range mapping {
		m := Mailbox{Source: e.Source, Target: e.Target, Line: e.Line, PinnedWave: e.Wave, Flags: e.Flags, Group: -1}
		bad := false
		if inv != nil && inv.Mailboxes != nil {
			if known, ok := inv.Mailboxes[strings.ToLower(e.Source)]; ok {
				m.Source = known.Source
				m.Type, m.Items, m.Bytes, m.EstimateSeconds = known.Type, known.Items, known.Bytes, known.EstimateSeconds
			} else {
				errs = append(errs, lineErr(e.Line, "source %s is not a mailbox of the source tenant (not in the audit or mailboxes.csv)", e.Source))
				bad = true
			}
		}
		switch {
		case e.Target == "":
			errs = append(errs, lineErr(e.Line, "destination login empty (write the target login, or the source address to keep it)"))
			bad = true
		case strings.Contains(e.Target, "@"):
			if a, err := mail.ParseAddress(e.Target); err != nil || a.Address != e.Target {
				errs = append(errs, lineErr(e.Line, "destination %q is not a valid address", e.Target))
				bad = true
			}
		}
		if e.Target != "" {
			k := strings.ToLower(e.Target)
			if prev, dup := targets[k]; dup {
				errs = append(errs, lineErr(e.Line, "destination %s is already the destination of line %d (two mailboxes cannot merge into one)", e.Target, prev))
				bad = true
			} else {
				targets[k] = e.Line
			}
		}
		if !bad {
			out = append(out, m)
		}
	}
	return out, errs
}
