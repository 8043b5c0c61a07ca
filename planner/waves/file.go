package waves

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bascule-migrate/bascule/planner"
)

// WriteYAML writes the plan as plan.yaml: a comment saying how to run it, then the plan.
func WriteYAML(w io.Writer, p *Plan) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Bascule migration plan: %d wave(s), %d mailbox(es). Run one wave with\n#   bascule migrate --plan plan.yaml --wave N …\n# Format: docs/PLANNING.md (schema %d).\n", len(p.Waves), p.Totals.Mailboxes, p.Schema)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadYAML reads a plan file and checks that it can be executed: a known schema, waves
// numbered from 1, every mailbox with a source and a target, in one wave only.
func ReadYAML(r io.Reader) (*Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("empty plan file")
		}
		return nil, fmt.Errorf("not a plan file (bascule plan writes them): %w", err)
	}
	if p.Schema != SchemaVersion {
		return nil, fmt.Errorf("plan schema %d: this bascule reads schema %d (make the plan again with bascule plan)", p.Schema, SchemaVersion)
	}
	seen := map[string]int{}
	for i, w := range p.Waves {
		if w.Number != i+1 {
			return nil, fmt.Errorf("the plan's wave %d is numbered %d: waves are numbered 1, 2, 3… in order", i+1, w.Number)
		}
		for _, m := range w.Mailboxes {
			if !strings.Contains(m.Source, "@") || m.Target == "" {
				return nil, fmt.Errorf("wave %d: a mailbox without source address or target login (%q → %q)", w.Number, m.Source, m.Target)
			}
			k := strings.ToLower(m.Source)
			if prev, dup := seen[k]; dup {
				return nil, fmt.Errorf("%s is in waves %d and %d: a mailbox belongs to one wave", m.Source, prev, w.Number)
			}
			seen[k] = w.Number
		}
	}
	return &p, nil
}

// Mapping returns wave n as a mapping: its mailboxes, source → target, in the wave's
// order. It fails when the plan has no wave n or wave n is empty.
func (p *Plan) Mapping(n int) ([]planner.MappingEntry, error) {
	w := p.Wave(n)
	if w == nil {
		return nil, fmt.Errorf("the plan has no wave %d (it has waves 1 to %d)", n, len(p.Waves))
	}
	if len(w.Mailboxes) == 0 {
		return nil, fmt.Errorf("wave %d of the plan holds no mailbox", n)
	}
	out := make([]planner.MappingEntry, len(w.Mailboxes))
	for i, m := range w.Mailboxes {
		out[i] = planner.MappingEntry{Source: m.Source, Target: m.Target, Wave: n, Flags: m.Flags, Line: m.Line}
	}
	return out, nil
}
