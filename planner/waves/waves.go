package waves

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Config shapes the waves and their schedule.
type Config struct {
	// Start is when wave 1 starts.
	Start time.Time
	// Window bounds every wave's estimated duration (0 = no bound).
	Window time.Duration
	// Every is the time between the starts of two waves (0 = back to back).
	Every time.Duration
	// Workers × MailboxParallel mailboxes are migrated at once (each at least 1).
	Workers, MailboxParallel int
	// MinWaves is the least number of waves to spread the mailboxes over (0 or 1 = as
	// few as the window and the cap allow).
	MinWaves int
	// MaxWaveMailboxes caps the mailboxes of a wave (0 = no cap).
	MaxWaveMailboxes int
	// BytesPerSecond and ItemsPerSecond are one worker's aggregate throughput (0 = not
	// bounded).
	BytesPerSecond, ItemsPerSecond float64
}

func (c Config) slots() int { return max(c.Workers, 1) * max(c.MailboxParallel, 1) }

// PinConflictError is returned when members of one delegation group are pinned to
// different waves.
type PinConflictError struct {
	// Lines are the mapping lines of the pinned members, with their waves.
	Pins []Mailbox
	// Path is a chain of links from the first pinned mailbox to the second.
	Path []Edge
}

func (e *PinConflictError) Error() string {
	var b strings.Builder
	b.WriteString("lines ")
	for i, p := range e.Pins {
		if i > 0 {
			if i == len(e.Pins)-1 {
				b.WriteString(" and ")
			} else {
				b.WriteString(", ")
			}
		}
		fmt.Fprintf(&b, "%d (%s, wave %d)", p.Line, p.Source, p.PinnedWave)
	}
	b.WriteString(" pin one delegation group to different waves")
	if len(e.Path) > 0 {
		b.WriteString(" (")
		for i, ed := range e.Path {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s grants %s to %s", ed.Owner, ed.Kind, ed.Grantee)
		}
		b.WriteString(")")
	}
	b.WriteString(": pin them to the same wave, or leave all but one Wave cell empty")
	return b.String()
}

// component is a connected component of the permission graph.
type component struct {
	members []int // indexes into the mailbox list, in input order
	items   int64
	bytes   int64
	sum     float64   // sum of estimates
	max     float64   // largest estimate
	pin     int       // pinned wave, 0 = none
	est     []float64 // estimates of the members, longest first
}

// bin is a wave being filled.
type bin struct {
	comps  []int
	count  int
	items  int64
	bytes  int64
	sum    float64
	max    float64
	pinned bool
	keep   bool // numbered by the pins: kept even when empty
	// loads are the slots' loads (a min-heap) of the list schedule the wave is filled
	// with: each component's mailboxes, longest first, each on the slot free first.
	loads []float64
}

func (b *bin) add(c *component, i int, slots int) {
	b.comps = append(b.comps, i)
	b.count += len(c.members)
	b.items += c.items
	b.bytes += c.bytes
	b.sum += c.sum
	b.max = max(b.max, c.max)
	if b.loads == nil {
		b.loads = make([]float64, slots)
	}
	for _, e := range c.est {
		b.loads[0] += e
		down(b.loads, 0)
	}
}

func (b *bin) clone() bin {
	c := *b
	c.comps = slices.Clone(b.comps)
	c.loads = slices.Clone(b.loads)
	return c
}

// makespan is the end of the wave's list schedule.
func (b *bin) makespan() float64 {
	if len(b.loads) == 0 {
		return 0
	}
	return slices.Max(b.loads)
}

// scheduleWith says whether the wave's list schedule with c's mailboxes added (longest
// first, each on the slot free first) ends within limit.
func (b *bin) scheduleWith(c *component, slots int, limit float64, scratch *[]float64) bool {
	loads := (*scratch)[:0]
	if b.loads == nil {
		loads = append(loads, make([]float64, slots)...)
	} else {
		loads = append(loads, b.loads...)
	}
	*scratch = loads
	for _, e := range c.est {
		loads[0] += e
		if loads[0] > limit {
			return false
		}
		down(loads, 0)
	}
	return true
}

// down restores the min-heap property of h from i down.
func down(h []float64, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && h[r] < h[l] {
			j = r
		}
		if h[i] <= h[j] {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// bound is an upper bound of the duration of a wave with these totals: Graham's bound of
// any list schedule on the slots, and the aggregate throughput.
func (cfg Config) bound(items, bytes int64, sum, mx float64) float64 {
	m := float64(cfg.slots())
	return max(sum/m+(1-1/m)*mx, cfg.aggregate(items, bytes))
}

func (cfg Config) aggregate(items, bytes int64) float64 {
	var d float64
	w := float64(max(cfg.Workers, 1))
	if cfg.BytesPerSecond > 0 {
		d = float64(bytes) / (w * cfg.BytesPerSecond)
	}
	if cfg.ItemsPerSecond > 0 {
		d = max(d, float64(items)/(w*cfg.ItemsPerSecond))
	}
	return d
}

// duration is the estimated duration of a wave: its mailboxes laid out longest first on
// the slots (LPT), and no faster than the aggregate throughput.
func (cfg Config) duration(estimates []float64, items, bytes int64) float64 {
	return max(lpt(estimates, cfg.slots()), cfg.aggregate(items, bytes))
}

// lpt returns the makespan of the estimates, longest first, each on the slot free first.
func lpt(estimates []float64, slots int) float64 {
	e := slices.Clone(estimates)
	slices.SortFunc(e, func(a, b float64) int { return cmp.Compare(b, a) })
	if len(e) <= slots {
		if len(e) == 0 {
			return 0
		}
		return e[0]
	}
	load := make([]float64, slots)
	for _, x := range e {
		j := 0
		for k := 1; k < slots; k++ {
			if load[k] < load[j] {
				j = k
			}
		}
		load[j] += x
	}
	return slices.Max(load)
}

func (cfg Config) window() float64 { return cfg.Window.Seconds() }

// Build splits the mailboxes into waves. mailboxes are the mapped mailboxes, in mapping
// order, each with its Source, Target, sizes, Line and PinnedWave; edges are every link
// the source knows (links with a mailbox outside the list become findings). sized says
// whether the estimates are known (from an audit): without them waves are balanced by
// mailbox count and durations are zero.
//
// It fails only when the pins conflict (a *PinConflictError per group, joined) or the input
// is inconsistent (a mailbox listed twice).
func Build(mailboxes []Mailbox, edges []Edge, sized bool, cfg Config) (*Plan, error) {
	index := make(map[string]int, len(mailboxes))
	for i, m := range mailboxes {
		k := strings.ToLower(m.Source)
		if j, dup := index[k]; dup {
			return nil, fmt.Errorf("line %d: %s is already mapped on line %d", m.Line, m.Source, mailboxes[j].Line)
		}
		index[k] = i
	}
	if !sized {
		mailboxes = slices.Clone(mailboxes)
		for i := range mailboxes {
			mailboxes[i].EstimateSeconds = 0
		}
	}
	// Links: between mapped mailboxes they join components; with an outsider they are
	// findings.
	uf := newUnionFind(len(mailboxes))
	var kept []Edge
	seen := map[Edge]bool{}
	outside := map[string]map[string]bool{} // unmapped address → mapped addresses linked
	outsideName := map[string]string{}
	adj := make([][]int, len(mailboxes)) // edge indexes per mailbox, for conflict paths
	var ends [][2]int
	for _, e := range edges {
		oi, ok1 := index[strings.ToLower(e.Owner)]
		gi, ok2 := index[strings.ToLower(e.Grantee)]
		switch {
		case ok1 && ok2:
			if oi == gi {
				continue
			}
			e.Owner, e.Grantee = mailboxes[oi].Source, mailboxes[gi].Source
			if seen[e] {
				continue
			}
			seen[e] = true
			uf.union(oi, gi)
			kept = append(kept, e)
			ends = append(ends, [2]int{oi, gi})
			adj[oi] = append(adj[oi], len(kept)-1)
			adj[gi] = append(adj[gi], len(kept)-1)
		case ok1 != ok2:
			in, out := e.Owner, e.Grantee
			if ok2 {
				in, out = e.Grantee, e.Owner
			}
			if out == "" {
				continue
			}
			k := strings.ToLower(out)
			if outside[k] == nil {
				outside[k] = map[string]bool{}
				outsideName[k] = out
			}
			outside[k][mailboxes[index[strings.ToLower(in)]].Source] = true
		}
	}
	// Components, in the order of their first mailbox.
	var comps []*component
	rootComp := map[int]int{}
	for i, m := range mailboxes {
		r := uf.find(i)
		ci, ok := rootComp[r]
		if !ok {
			ci = len(comps)
			rootComp[r] = ci
			comps = append(comps, &component{})
		}
		c := comps[ci]
		c.members = append(c.members, i)
		c.items += m.Items
		c.bytes += m.Bytes
		c.sum += m.EstimateSeconds
		c.max = max(c.max, m.EstimateSeconds)
		c.est = append(c.est, m.EstimateSeconds)
	}
	for _, c := range comps {
		slices.SortFunc(c.est, func(a, b float64) int { return cmp.Compare(b, a) })
	}
	// Pins: one wave per component.
	var errs []error
	for _, c := range comps {
		var pinned []int
		for _, i := range c.members {
			if p := mailboxes[i].PinnedWave; p > 0 {
				if c.pin == 0 {
					c.pin = p
					pinned = append(pinned, i)
				} else if p != c.pin {
					pinned = append(pinned, i)
				}
			}
		}
		if len(pinned) > 1 {
			e := &PinConflictError{Path: path(kept, ends, adj, pinned[0], pinned[1])}
			for _, i := range pinned {
				e.Pins = append(e.Pins, mailboxes[i])
			}
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	p := &Plan{Schema: SchemaVersion, Edges: kept}
	if p.Edges == nil {
		p.Edges = []Edge{}
	}
	win := cfg.window()
	weight := func(c *component) float64 {
		if sized {
			return c.sum
		}
		return float64(len(c.members))
	}
	overCap := func(n int) bool { return cfg.MaxWaveMailboxes > 0 && n > cfg.MaxWaveMailboxes }
	slots := cfg.slots()
	var scratch []float64
	// alone is the duration of a component in a wave of its own.
	alone := func(c *component) float64 { return cfg.duration(c.est, c.items, c.bytes) }
	// fits: the wave's list schedule with c added ends within the window, and so does
	// its aggregate time. Graham's bound accepts at once, the lower bounds reject at once;
	// in between the schedule is simulated.
	fits := func(b *bin, c *component) bool {
		if overCap(b.count + len(c.members)) {
			return false
		}
		if win <= 0 {
			return true
		}
		items, bytes, sum, mx := b.items+c.items, b.bytes+c.bytes, b.sum+c.sum, max(b.max, c.max)
		if cfg.aggregate(items, bytes) > win || mx > win || sum/float64(slots) > win {
			return false
		}
		if cfg.bound(items, bytes, sum, mx) <= win {
			return true
		}
		return b.scheduleWith(c, slots, win, &scratch)
	}

	// Pinned components first, in their waves.
	maxPin := 0
	for _, c := range comps {
		maxPin = max(maxPin, c.pin)
	}
	pinnedBins := make([]bin, maxPin)
	for i := range pinnedBins {
		pinnedBins[i].keep = true
	}
	var free, oversized []int
	var total float64
	count := 0
	for ci, c := range comps {
		switch {
		case c.pin > 0:
			pinnedBins[c.pin-1].add(c, ci, slots)
			pinnedBins[c.pin-1].pinned = true
		case overCap(len(c.members)) || (win > 0 && alone(c) > win):
			oversized = append(oversized, ci)
		default:
			free = append(free, ci)
			total += c.sum
			count += len(c.members)
		}
	}
	// The others largest first, each into the least loaded wave it fits in; as few waves
	// as that allows.
	slices.SortStableFunc(free, func(a, b int) int { return cmp.Compare(weight(comps[b]), weight(comps[a])) })
	k := max(maxPin, cfg.MinWaves, 1)
	if win > 0 && sized {
		k = max(k, int(math.Ceil(total/(win*float64(cfg.slots())))))
	}
	if cfg.MaxWaveMailboxes > 0 {
		k = max(k, (count+cfg.MaxWaveMailboxes-1)/cfg.MaxWaveMailboxes)
	}
	// place puts the free components into k waves (after the pinned ones), each into the
	// least loaded wave it fits in; with grow, a component that fits nowhere opens a new
	// wave, else it fails the attempt.
	place := func(k int, grow bool) ([]bin, bool) {
		bins := make([]bin, k)
		for i := range pinnedBins {
			bins[i] = pinnedBins[i].clone()
		}
		for _, ci := range free {
			c := comps[ci]
			best := -1
			for j := range bins {
				// The least loaded wave that fits: only a less loaded one needs the check.
				if best >= 0 && load(&bins[j], sized) >= load(&bins[best], sized) || !fits(&bins[j], c) {
					continue
				}
				best = j
			}
			if best < 0 {
				if !grow {
					return nil, false
				}
				bins = append(bins, bin{})
				best = len(bins) - 1
			}
			bins[best].add(c, ci, slots)
		}
		return bins, true
	}
	// Opening waves as needed always succeeds and bounds the count; then the fewest waves
	// (binary search between the lower bound and that count) over which the least-loaded
	// placement succeeds, which spreads the load evenly over them.
	bins, _ := place(k, true)
	if len(bins) > k {
		lo, hi := k, len(bins) // place(lo) fails or is untried; place(hi) is the fallback
		if b, ok := place(lo, false); ok {
			bins, hi = b, lo
		}
		for lo+1 < hi {
			mid := (lo + hi) / 2
			if b, ok := place(mid, false); ok {
				bins, hi = b, mid
			} else {
				lo = mid
			}
		}
	}
	for _, ci := range oversized {
		var b bin
		b.add(comps[ci], ci, slots)
		bins = append(bins, b)
	}
	// Drop the empty waves the balancing left (--min-waves larger than the mailboxes), but
	// not the gaps between pinned waves: wave numbers the mapping names stay as written.
	bins = slices.DeleteFunc(bins, func(b bin) bool { return b.count == 0 && !b.keep })

	// The plan: waves, groups, schedule.
	waveOf := make([]int, len(comps))
	for wi := range bins {
		for _, ci := range bins[wi].comps {
			waveOf[ci] = wi + 1
		}
	}
	groupOf := make([]int, len(comps))
	for ci := range groupOf {
		groupOf[ci] = -1
	}
	var order []int
	for ci, c := range comps {
		if len(c.members) > 1 {
			order = append(order, ci)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(waveOf[a], waveOf[b]) })
	p.Groups = []Group{}
	for _, ci := range order {
		c := comps[ci]
		g := Group{ID: len(p.Groups), Wave: waveOf[ci], Items: c.items, Bytes: c.bytes, EstimateSeconds: c.sum}
		for _, i := range c.members {
			g.Mailboxes = append(g.Mailboxes, mailboxes[i].Source)
		}
		slices.Sort(g.Mailboxes)
		groupOf[ci] = g.ID
		p.Groups = append(p.Groups, g)
	}
	start := cfg.Start
	for wi := range bins {
		b := &bins[wi]
		w := Wave{Number: wi + 1, Pinned: b.pinned, Mailboxes: []Mailbox{}}
		var est []float64
		for _, ci := range b.comps {
			for _, i := range comps[ci].members {
				m := mailboxes[i]
				m.Group = groupOf[ci]
				w.Mailboxes = append(w.Mailboxes, m)
				w.Items += m.Items
				w.Bytes += m.Bytes
				est = append(est, m.EstimateSeconds)
			}
		}
		slices.SortStableFunc(w.Mailboxes, func(a, b Mailbox) int {
			if c := cmp.Compare(b.EstimateSeconds, a.EstimateSeconds); c != 0 {
				return c
			}
			return cmp.Compare(a.Line, b.Line)
		})
		// The better of two schedules: all mailboxes longest first, or the order the wave
		// was filled in (the one the window was checked against).
		d := max(min(lpt(est, slots), b.makespan()), cfg.aggregate(w.Items, w.Bytes))
		w.DurationSeconds = d
		if cfg.Every > 0 {
			w.Start = cfg.Start.Add(time.Duration(wi) * cfg.Every)
			if wi > 0 && w.Start.Before(p.Waves[wi-1].End) {
				p.Findings = append(p.Findings, Finding{Code: FindingOverlap, Severity: Warning, Wave: wi + 1,
					Message: fmt.Sprintf("wave %d starts at %s, before wave %d is estimated to end (%s)", wi+1, w.Start.Format(time.RFC3339), wi, p.Waves[wi-1].End.Format(time.RFC3339)),
					Action:  "lengthen --every, or add --workers so that each wave ends before the next starts"})
			}
		} else {
			w.Start = start
		}
		w.End = w.Start.Add(seconds(d))
		start = w.End
		if win > 0 && d > win {
			w.OverWindow = true
		}
		if b.count == 0 {
			p.Findings = append(p.Findings, Finding{Code: FindingEmptyWave, Severity: Info, Wave: wi + 1,
				Message: fmt.Sprintf("wave %d holds no mailbox: the mapping pins later waves, and the others fitted before", wi+1),
				Action:  "renumber the Wave column if the gap is not wanted"})
		}
		p.Waves = append(p.Waves, w)
		p.Totals.Mailboxes += len(w.Mailboxes)
		p.Totals.Items += w.Items
		p.Totals.Bytes += w.Bytes
	}
	// Findings.
	for wi := range bins {
		b := &bins[wi]
		w := &p.Waves[wi]
		if b.pinned {
			if win > 0 && w.DurationSeconds > win {
				p.Findings = append(p.Findings, Finding{Code: FindingPinnedOverWindow, Severity: Warning, Wave: w.Number,
					Mailboxes: sources(w.Mailboxes),
					Message: fmt.Sprintf("the mailboxes pinned to wave %d take an estimated %s, more than the %s window",
						w.Number, human(w.DurationSeconds), human(win)),
					Action: "move some pins to another wave (a whole delegation group at a time), or lengthen --window, or add --workers"})
			}
			if overCap(b.count) {
				p.Findings = append(p.Findings, Finding{Code: FindingPinnedOverCap, Severity: Warning, Wave: w.Number,
					Mailboxes: sources(w.Mailboxes),
					Message:   fmt.Sprintf("%d mailboxes are pinned to wave %d, more than --max-wave-mailboxes %d", b.count, w.Number, cfg.MaxWaveMailboxes),
					Action:    "move some pins to another wave, or raise --max-wave-mailboxes"})
			}
		}
	}
	for _, ci := range oversized {
		c := comps[ci]
		names := make([]string, len(c.members))
		for j, i := range c.members {
			names[j] = mailboxes[i].Source
		}
		slices.Sort(names)
		what := "the delegation group of " + list(names)
		if len(names) == 1 {
			what = "mailbox " + names[0]
		}
		if overCap(len(c.members)) {
			p.Findings = append(p.Findings, Finding{Code: FindingGroupOverCap, Severity: Warning, Wave: waveOf[ci], Mailboxes: names,
				Message: fmt.Sprintf("%s has %d mailboxes, more than --max-wave-mailboxes %d; it is not split: wave %d holds it alone",
					what, len(names), cfg.MaxWaveMailboxes, waveOf[ci]),
				Action: "raise --max-wave-mailboxes, or remove the delegations that tie these mailboxes together before the migration"})
		}
		if d := alone(c); win > 0 && d > win {
			p.Findings = append(p.Findings, Finding{Code: FindingGroupOverWindow, Severity: Warning, Wave: waveOf[ci], Mailboxes: names,
				Message: fmt.Sprintf("%s takes an estimated %s, more than the %s window; it is not split: wave %d runs over the window",
					what, human(d), human(win), waveOf[ci]),
				Action: "lengthen --window, add --workers or --mailbox-parallel, or migrate the bulk of it beforehand (a first pass before the cutover leaves only the delta for the window)"})
		}
	}
	outs := make([]string, 0, len(outside))
	for k := range outside {
		outs = append(outs, k)
	}
	slices.Sort(outs)
	for _, k := range outs {
		var in []string
		for a := range outside[k] {
			in = append(in, a)
		}
		slices.Sort(in)
		p.Findings = append(p.Findings, Finding{Code: FindingUnmappedLink, Severity: Warning, Mailboxes: in,
			Message: fmt.Sprintf("%s is not in the mapping but shares permissions with %s: after the cutover those permissions link two systems",
				outsideName[k], list(in)),
			Action: fmt.Sprintf("add %s to the mapping (it joins their wave), or accept that the delegation stops working until it moves", outsideName[k])})
	}
	if !sized && len(mailboxes) > 0 {
		p.Findings = append(p.Findings, Finding{Code: FindingUnsized, Severity: Info,
			Message: "no audit: mailbox sizes and durations are unknown, waves are balanced by mailbox count and the window is not checked",
			Action:  "run bascule audit and give its report with --audit, or bound waves with --max-wave-mailboxes"})
	}
	p.Totals.Waves = len(p.Waves)
	p.Totals.Groups = len(p.Groups)
	if len(p.Waves) > 0 {
		p.Totals.Start = p.Waves[0].Start
		p.Totals.End = p.Waves[len(p.Waves)-1].End
		for _, w := range p.Waves {
			if w.End.After(p.Totals.End) {
				p.Totals.End = w.End
			}
		}
	} else {
		p.Waves = []Wave{}
		p.Totals.Start, p.Totals.End = cfg.Start, cfg.Start
	}
	if p.Findings == nil {
		p.Findings = []Finding{}
	}
	p.Options = Options{Start: cfg.Start, WindowSeconds: win, EverySeconds: cfg.Every.Seconds(),
		Workers: max(cfg.Workers, 1), MailboxParallel: max(cfg.MailboxParallel, 1), MaxWaveMailboxes: cfg.MaxWaveMailboxes,
		MinWaves: cfg.MinWaves, BytesPerSecond: cfg.BytesPerSecond, ItemsPerSecond: cfg.ItemsPerSecond, Sized: sized}
	return p, nil
}

func load(b *bin, sized bool) float64 {
	if sized {
		return b.sum
	}
	return float64(b.count)
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s)) * time.Second }

// human writes a duration in seconds as "2h30m", "48h", "45m", "12s".
func human(s float64) string { return FormatSeconds(s) }

// FormatSeconds writes a duration in seconds the way the schedule shows it: "2h30m",
// "48h", "45m", "12s" (minutes from an hour up, seconds below).
func FormatSeconds(s float64) string {
	d := seconds(s)
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	case d >= time.Minute:
		m, sec := d/time.Minute, (d%time.Minute)/time.Second
		if sec == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func sources(ms []Mailbox) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Source
	}
	slices.Sort(out)
	return out
}

// list names up to five addresses.
func list(a []string) string {
	if len(a) <= 5 {
		return strings.Join(a, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(a[:5], ", "), len(a)-5)
}

// path finds a shortest chain of links from mailbox a to mailbox b (breadth first);
// ends[i] are the mailbox indexes of edges[i].
func path(edges []Edge, ends [][2]int, adj [][]int, a, b int) []Edge {
	via := map[int]int{a: -1} // mailbox → index of the edge that reached it
	queue := []int{a}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x == b {
			break
		}
		for _, ei := range adj[x] {
			y := ends[ei][0]
			if y == x {
				y = ends[ei][1]
			}
			if _, ok := via[y]; !ok {
				via[y] = ei
				queue = append(queue, y)
			}
		}
	}
	if _, ok := via[b]; !ok || a == b {
		return nil
	}
	var out []Edge
	for x := b; x != a; {
		ei := via[x]
		out = append(out, edges[ei])
		x = ends[ei][0] + ends[ei][1] - x
	}
	slices.Reverse(out)
	return out
}

type unionFind struct{ parent, rank []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), rank: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.rank[a] < u.rank[b] {
		a, b = b, a
	}
	u.parent[b] = a
	if u.rank[a] == u.rank[b] {
		u.rank[a]++
	}
}
