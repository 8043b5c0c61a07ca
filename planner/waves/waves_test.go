package waves

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// genCase is one random planning problem.
type genCase struct {
	seed      uint64
	mailboxes []Mailbox
	edges     []Edge
	sized     bool
	cfg       Config
}

func (c genCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d sized=%v cfg=%+v\n", c.seed, c.sized, c.cfg)
	for _, m := range c.mailboxes {
		fmt.Fprintf(&b, "  %s est=%.0f items=%d bytes=%d pin=%d\n", m.Source, m.EstimateSeconds, m.Items, m.Bytes, m.PinnedWave)
	}
	for _, e := range c.edges {
		fmt.Fprintf(&b, "  %s -> %s (%s)\n", e.Owner, e.Grantee, e.Kind)
	}
	return b.String()
}

// generate makes a random permission graph whose size grows with the seed (small cases
// first, so the first failure is a small one): mailboxes with random estimates (a few
// far longer than the rest), random links (some to mailboxes outside the mapping, some
// with another case), random consistent pins, random window, slots, cap and rates.
func generate(seed uint64) genCase {
	r := rand.New(rand.NewPCG(seed, seed*7919+1))
	n := 1 + r.IntN(3+int(seed/20))
	c := genCase{seed: seed, sized: r.IntN(5) != 0}
	for i := range n {
		m := Mailbox{Source: fmt.Sprintf("u%d@contoso.example", i), Target: fmt.Sprintf("u%d", i), Line: i + 2, Group: -1,
			Items: int64(r.IntN(100000)), Bytes: int64(r.IntN(1 << 30))}
		switch r.IntN(10) {
		case 0:
			m.EstimateSeconds = 0
		case 1:
			m.EstimateSeconds = float64(10000 + r.IntN(400000)) // a giant
		default:
			m.EstimateSeconds = float64(r.IntN(20000))
		}
		c.mailboxes = append(c.mailboxes, m)
	}
	density := r.Float64() * 2.5
	for range int(density * float64(n)) {
		a, b := r.IntN(n), r.IntN(n)
		owner, grantee := c.mailboxes[a].Source, c.mailboxes[b].Source
		if r.IntN(4) == 0 {
			grantee = strings.ToUpper(grantee)
		}
		if r.IntN(15) == 0 {
			grantee = fmt.Sprintf("outsider%d@contoso.example", r.IntN(3))
		}
		c.edges = append(c.edges, Edge{Owner: owner, Grantee: grantee, Kind: []EdgeKind{EdgeFullAccess, EdgeCalendar, EdgeSendAs, EdgeFolder}[r.IntN(4)]})
	}
	c.cfg = Config{Start: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), Workers: 1 + r.IntN(3), MailboxParallel: 1 + r.IntN(6)}
	if r.IntN(4) != 0 {
		c.cfg.Window = time.Duration(3600+r.IntN(48*3600)) * time.Second
	}
	if r.IntN(3) == 0 {
		c.cfg.MaxWaveMailboxes = 1 + r.IntN(8)
	}
	if r.IntN(3) == 0 {
		c.cfg.MinWaves = r.IntN(5)
	}
	if r.IntN(3) == 0 {
		c.cfg.BytesPerSecond = float64(1 + r.IntN(50<<20))
		c.cfg.ItemsPerSecond = float64(1 + r.IntN(500))
	}
	if r.IntN(4) == 0 {
		c.cfg.Every = time.Duration(r.IntN(7*24)) * time.Hour
	}
	// Pins: a few components pinned, through a random member, to a random wave; sometimes
	// two members of the same component, to the same wave.
	comps := components(c.mailboxes, c.edges)
	for _, comp := range comps {
		if r.IntN(4) != 0 {
			continue
		}
		w := 1 + r.IntN(4)
		c.mailboxes[comp[r.IntN(len(comp))]].PinnedWave = w
		if r.IntN(2) == 0 {
			c.mailboxes[comp[r.IntN(len(comp))]].PinnedWave = w
		}
	}
	return c
}

// components computes the connected components independently of the code under test
// (breadth first over an adjacency list, addresses compared case-insensitively).
func components(ms []Mailbox, edges []Edge) [][]int {
	idx := map[string]int{}
	for i, m := range ms {
		idx[strings.ToLower(m.Source)] = i
	}
	adj := make([][]int, len(ms))
	for _, e := range edges {
		a, ok1 := idx[strings.ToLower(e.Owner)]
		b, ok2 := idx[strings.ToLower(e.Grantee)]
		if ok1 && ok2 {
			adj[a] = append(adj[a], b)
			adj[b] = append(adj[b], a)
		}
	}
	seen := make([]bool, len(ms))
	var out [][]int
	for i := range ms {
		if seen[i] {
			continue
		}
		comp := []int{i}
		seen[i] = true
		for q := 0; q < len(comp); q++ {
			for _, y := range adj[comp[q]] {
				if !seen[y] {
					seen[y] = true
					comp = append(comp, y)
				}
			}
		}
		out = append(out, comp)
	}
	return out
}

// TestWavesProperties is the acceptance property: over many random permission graphs,
// waves never split a connected component, every mailbox is in exactly one wave, every
// wave fits the window and the cap unless it holds a component that does not fit alone or
// pinned mailboxes (each reported by a finding), pins are honoured, and the schedule adds
// up.
func TestWavesProperties(t *testing.T) {
	cases := 3000
	if testing.Short() {
		cases = 500
	}
	for seed := range uint64(cases) {
		c := generate(seed)
		p, err := Build(c.mailboxes, c.edges, c.sized, c.cfg)
		if err != nil {
			t.Fatalf("Build() = %v\n%s", err, c)
		}
		if msg := checkPlan(c, p); msg != "" {
			t.Fatalf("%s\n%s", msg, c)
		}
	}
}

func checkPlan(c genCase, p *Plan) string {
	waveOf := map[string]int{}
	for wi, w := range p.Waves {
		if w.Number != wi+1 {
			return fmt.Sprintf("wave %d numbered %d", wi+1, w.Number)
		}
		for _, m := range w.Mailboxes {
			if prev, dup := waveOf[m.Source]; dup {
				return fmt.Sprintf("%s in waves %d and %d", m.Source, prev, w.Number)
			}
			waveOf[m.Source] = w.Number
		}
	}
	if len(waveOf) != len(c.mailboxes) {
		return fmt.Sprintf("%d mailboxes in the waves, %d mapped", len(waveOf), len(c.mailboxes))
	}
	for _, m := range c.mailboxes {
		if _, ok := waveOf[m.Source]; !ok {
			return fmt.Sprintf("%s in no wave", m.Source)
		}
		if m.PinnedWave > 0 && waveOf[m.Source] != m.PinnedWave {
			return fmt.Sprintf("%s pinned to wave %d is in wave %d", m.Source, m.PinnedWave, waveOf[m.Source])
		}
	}
	comps := components(c.mailboxes, c.edges)
	slots := float64(max(c.cfg.Workers, 1) * max(c.cfg.MailboxParallel, 1))
	win := c.cfg.Window.Seconds()
	// A component that does not fit a wave of its own: its lower bound (its longest
	// mailbox, its total over the slots, its aggregate) exceeds the window, or its size
	// the cap. Only those may put a wave over.
	compWave := map[int]int{}
	var reported []string
	for _, f := range p.Findings {
		if f.Code == FindingGroupOverWindow || f.Code == FindingGroupOverCap || f.Code == FindingPinnedOverWindow || f.Code == FindingPinnedOverCap {
			reported = append(reported, f.Mailboxes...)
		}
	}
	for ci, comp := range comps {
		w := waveOf[c.mailboxes[comp[0]].Source]
		for _, i := range comp {
			if waveOf[c.mailboxes[i].Source] != w {
				return fmt.Sprintf("component %d split: %s in wave %d, %s in wave %d", ci, c.mailboxes[comp[0]].Source, w, c.mailboxes[i].Source, waveOf[c.mailboxes[i].Source])
			}
		}
		compWave[ci] = w
	}
	for _, w := range p.Waves {
		var sum, mx float64
		var items, bytes int64
		for _, m := range w.Mailboxes {
			sum += m.EstimateSeconds
			mx = max(mx, m.EstimateSeconds)
			items += m.Items
			bytes += m.Bytes
		}
		if w.Items != items || w.Bytes != bytes {
			return fmt.Sprintf("wave %d totals %d items %d bytes, its mailboxes %d, %d", w.Number, w.Items, w.Bytes, items, bytes)
		}
		lower := max(mx, sum/slots)
		if w.DurationSeconds+1e-6 < lower {
			return fmt.Sprintf("wave %d lasts %.0fs, less than its lower bound %.0fs", w.Number, w.DurationSeconds, lower)
		}
		if !c.sized && w.DurationSeconds != 0 && c.cfg.BytesPerSecond == 0 {
			return fmt.Sprintf("wave %d has a duration without sizes", w.Number)
		}
		if d := w.End.Sub(w.Start); d != seconds(w.DurationSeconds) {
			return fmt.Sprintf("wave %d: end − start = %s, duration %.0fs", w.Number, d, w.DurationSeconds)
		}
		over := (win > 0 && w.DurationSeconds > win) || (c.cfg.MaxWaveMailboxes > 0 && len(w.Mailboxes) > c.cfg.MaxWaveMailboxes)
		if over != (w.OverWindow || (c.cfg.MaxWaveMailboxes > 0 && len(w.Mailboxes) > c.cfg.MaxWaveMailboxes)) {
			return fmt.Sprintf("wave %d: OverWindow=%v, duration %.0fs, window %.0fs", w.Number, w.OverWindow, w.DurationSeconds, win)
		}
		if over {
			// Every mailbox of an over wave is named by a finding: the wave is a lone
			// oversized component, or pinned.
			for _, m := range w.Mailboxes {
				if !slices.Contains(reported, m.Source) {
					return fmt.Sprintf("wave %d is over (%.0fs > %.0fs or %d > cap %d) but %s is in no finding", w.Number, w.DurationSeconds, win, len(w.Mailboxes), c.cfg.MaxWaveMailboxes, m.Source)
				}
			}
			if !w.Pinned {
				n := 0
				for ci := range comps {
					if compWave[ci] == w.Number {
						n++
					}
				}
				if n != 1 {
					return fmt.Sprintf("unpinned wave %d is over with %d components in it", w.Number, n)
				}
			}
		}
		if len(w.Mailboxes) == 0 {
			// Only a gap below a pinned wave may be empty.
			pinnedAfter := false
			for _, m := range c.mailboxes {
				if m.PinnedWave > w.Number {
					pinnedAfter = true
				}
			}
			if !pinnedAfter {
				return fmt.Sprintf("wave %d is empty and no later wave is pinned", w.Number)
			}
		}
	}
	// Without window, cap, pins or a wave count, everything is one wave.
	pins := slices.ContainsFunc(c.mailboxes, func(m Mailbox) bool { return m.PinnedWave > 0 })
	if win == 0 && c.cfg.MaxWaveMailboxes == 0 && c.cfg.MinWaves <= 1 && !pins && len(p.Waves) != 1 {
		return fmt.Sprintf("%d waves without any bound", len(p.Waves))
	}
	// Schedule: back to back, or every Every.
	for i := 1; i < len(p.Waves); i++ {
		want := p.Waves[i-1].End
		if c.cfg.Every > 0 {
			want = c.cfg.Start.Add(time.Duration(i) * c.cfg.Every)
		}
		if !p.Waves[i].Start.Equal(want) {
			return fmt.Sprintf("wave %d starts %s, want %s", i+1, p.Waves[i].Start, want)
		}
	}
	// Groups: the components of more than one mailbox, each with the wave it is in.
	n := 0
	for _, comp := range comps {
		if len(comp) > 1 {
			n++
		}
	}
	if len(p.Groups) != n {
		return fmt.Sprintf("%d groups, %d components of more than one mailbox", len(p.Groups), n)
	}
	for _, g := range p.Groups {
		for _, a := range g.Mailboxes {
			if waveOf[a] != g.Wave {
				return fmt.Sprintf("group %d says wave %d, %s is in wave %d", g.ID, g.Wave, a, waveOf[a])
			}
		}
	}
	return ""
}

// TestPinConflicts: two members of one component pinned to different waves is an error
// naming both lines, for every random graph where that can happen.
func TestPinConflicts(t *testing.T) {
	found := 0
	for seed := range uint64(1000) {
		c := generate(seed)
		for i := range c.mailboxes {
			c.mailboxes[i].PinnedWave = 0
		}
		var comp []int
		for _, k := range components(c.mailboxes, c.edges) {
			if len(k) > 1 {
				comp = k
				break
			}
		}
		if comp == nil {
			continue
		}
		found++
		a, b := c.mailboxes[comp[0]], c.mailboxes[comp[len(comp)-1]]
		c.mailboxes[comp[0]].PinnedWave = 1
		c.mailboxes[comp[len(comp)-1]].PinnedWave = 2
		_, err := Build(c.mailboxes, c.edges, c.sized, c.cfg)
		var pe *PinConflictError
		if !errors.As(err, &pe) {
			t.Fatalf("Build() = %v, want a pin conflict\n%s", err, c)
		}
		for _, want := range []string{fmt.Sprintf("%d (%s, wave 1)", a.Line, a.Source), fmt.Sprintf("%d (%s, wave 2)", b.Line, b.Source)} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		}
		// The path printed links the two.
		if len(pe.Path) == 0 || !strings.EqualFold(pathEnd(pe.Path, a.Source), b.Source) {
			t.Fatalf("path %+v does not lead from %s to %s", pe.Path, a.Source, b.Source)
		}
	}
	if found < 100 {
		t.Fatalf("only %d cases with a component of two mailboxes", found)
	}
}

// pathEnd follows a chain of edges from start and returns where it ends.
func pathEnd(path []Edge, start string) string {
	at := strings.ToLower(start)
	for _, e := range path {
		switch at {
		case strings.ToLower(e.Owner):
			at = strings.ToLower(e.Grantee)
		case strings.ToLower(e.Grantee):
			at = strings.ToLower(e.Owner)
		default:
			return "(broken at " + e.Owner + ")"
		}
	}
	return at
}

// TestGrantsToEdges: the grants that link two people are edges of the right kind; those
// that link nobody (Default, Anonymous, deny entries, the None role, one's own mailbox)
// are not, and links to groups or unknown names are dropped by Links.
func TestGrantsToEdges(t *testing.T) {
	inv := &Inventory{}
	for _, a := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		inv.AddMailbox(Mailbox{Source: a})
	}
	inv.AddGrants([]model.Grant{
		{Owner: "a@x.example", Grantee: "b@x.example", Scope: model.ScopeMailbox, Role: "FullAccess"},
		{Owner: "a@x.example", Grantee: "B@x.example", Scope: model.ScopeSendAs, Role: "SendAs"},
		{Owner: "a@x.example", Grantee: "c@x.example", Scope: model.ScopeCalendar, Role: "Reviewer"},
		{Owner: "b@x.example", Grantee: "c@x.example", Scope: model.ScopeFolder, FolderPath: "Inbox", Role: "Editor"},
		{Owner: "c@x.example", Grantee: "a@x.example", Scope: model.ScopeSendOnBehalf, Role: "SendOnBehalf"},
		{Owner: "c@x.example", Grantee: "b@x.example", Scope: model.ScopeContacts, Role: "Reviewer"},
		{Owner: "a@x.example", Grantee: model.GranteeDefault, Scope: model.ScopeCalendar, Role: "AvailabilityOnly"},
		{Owner: "a@x.example", Grantee: model.GranteeAnonymous, Scope: model.ScopeCalendar, Role: "None"},
		{Owner: "a@x.example", Grantee: "c@x.example", Scope: model.ScopeMailbox, Role: "FullAccess", Deny: true},
		{Owner: "a@x.example", Grantee: "c@x.example", Scope: model.ScopeFolder, Role: "None"},
		{Owner: "a@x.example", Grantee: "a@x.example", Scope: model.ScopeMailbox, Role: "FullAccess"},
		{Owner: "a@x.example", Grantee: "Équipe Accueil", Scope: model.ScopeMailbox, Role: "FullAccess"},
		{Owner: "a@x.example", Grantee: "outside@y.example", Scope: model.ScopeCalendar, Role: "Reviewer"},
	})
	var kinds []string
	for _, e := range inv.Links() {
		kinds = append(kinds, string(e.Kind))
	}
	want := []string{"fullaccess", "sendas", "calendar", "folder", "sendonbehalf", "contacts"}
	if !slices.Equal(kinds, want) {
		t.Errorf("link kinds %v, want %v (edges %+v)", kinds, want, inv.Edges)
	}
	if len(inv.Edges) != 8 {
		t.Errorf("%d edges before Links, want 8 (the group and the outside address kept)", len(inv.Edges))
	}
}
