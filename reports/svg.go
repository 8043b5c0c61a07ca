package reports

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"
)

// Charts are inline SVG written here, in Go: no script, no library, no network. Every text
// that reaches a chart (folder and mailbox names are untrusted) goes through esc.

// palette holds the chart colours; tests look for them in screenshots.
var palette = []string{"#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"}

// seriesPalette is the palette without red, which says "bad": for waves and other series
// that are neither good nor bad.
var seriesPalette = []string{"#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"}

// Named colours of the palette.
const (
	colBlue   = "#2563eb"
	colGreen  = "#16a34a"
	colRed    = "#dc2626"
	colAmber  = "#d97706"
	colViolet = "#7c3aed"
)

const (
	chartW  = 760 // viewBox width of every chart
	axisCol = "#6b7280"
	gridCol = "#e5e7eb"
)

// esc escapes text for SVG inside HTML, dropping the characters XML does not allow
// (controls other than tab and newlines; invalid UTF-8 becomes U+FFFD).
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, s)
	return html.EscapeString(s)
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// svgOpen starts a chart: a figure holding one svg of class "chart".
func svgOpen(b *strings.Builder, id, title string, h int) {
	fmt.Fprintf(b, `<figure class="chart-fig"><svg class="chart" id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s"><title>%s</title>`,
		esc(id), chartW, h, chartW, h, esc(title), esc(title))
}

func svgClose(b *strings.Builder, caption string) template.HTML {
	b.WriteString(`</svg>`)
	if caption != "" {
		fmt.Fprintf(b, `<figcaption>%s</figcaption>`, esc(caption))
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String()) // every piece of text above went through esc
}

func noData(id, title, msg string) template.HTML {
	var b strings.Builder
	svgOpen(&b, id, title, 60)
	fmt.Fprintf(&b, `<text x="%d" y="35" text-anchor="middle" class="muted">%s</text>`, chartW/2, esc(msg))
	return svgClose(&b, "")
}

// niceMax rounds max up to a round axis end and returns it with a tick step (about n ticks).
func niceMax(max float64, n int) (top, step float64) {
	if max <= 1e-9 || math.IsNaN(max) || math.IsInf(max, 0) {
		return 1, 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	top = math.Ceil(max/step) * step
	if math.IsInf(top, 0) || math.IsInf(step, 0) || step == 0 {
		return max, max / float64(n)
	}
	return top, step
}

// finite maps NaN and infinities to 0: a chart never writes them into SVG attributes.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// decimals is the number of decimals that tell ticks step apart.
func decimals(step float64) int {
	if step >= 1 || step <= 0 {
		return 0
	}
	d := int(math.Ceil(-math.Log10(step) - 1e-9))
	if math.Abs(step*math.Pow(10, float64(d))-math.Round(step*math.Pow(10, float64(d)))) > 1e-9 {
		d++
	}
	return d
}

// Bar is one bar of a bar chart or histogram.
type Bar struct {
	Label   string
	Value   float64
	Display string // the value as shown ("" = none)
	Color   string // "" = palette by index
}

// BarChart draws horizontal bars, one per row, labelled on the left.
func BarChart(id, title, empty string, bars []Bar) template.HTML {
	if len(bars) == 0 {
		return noData(id, title, empty)
	}
	const rowH, top, left, right = 28, 10, 190, 110
	h := top*2 + rowH*len(bars)
	var b strings.Builder
	svgOpen(&b, id, title, h)
	max := 0.0
	for _, x := range bars {
		max = math.Max(max, finite(x.Value))
	}
	if max <= 0 {
		max = 1
	}
	span := float64(chartW - left - right)
	for i, x := range bars {
		y := top + i*rowH
		col := x.Color
		if col == "" {
			col = palette[i%len(palette)]
		}
		w := span * (math.Max(finite(x.Value), 0) / max)
		if x.Value > 0 && w < 2 {
			w = 2
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="lbl">%s<title>%s</title></text>`, left-8, y+rowH/2+4, esc(truncate(x.Label, 28)), esc(x.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s" rx="2"/>`, left, y+4, w, rowH-8, col)
		if x.Display != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="val">%s</text>`, float64(left)+w+6, y+rowH/2+4, esc(x.Display))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, top, left, h-top, axisCol)
	return svgClose(&b, "")
}

// Histogram draws vertical bars (bins in order) with a count axis.
func Histogram(id, title, empty string, bins []Bar, num func(float64, int) string) template.HTML {
	total := 0.0
	for _, x := range bins {
		total += math.Abs(finite(x.Value))
	}
	if len(bins) == 0 || total == 0 {
		return noData(id, title, empty)
	}
	const h, top, bottom, left, right = 260, 20, 50, 70, 20
	var b strings.Builder
	svgOpen(&b, id, title, h)
	max := 0.0
	for _, x := range bins {
		max = math.Max(max, finite(x.Value))
	}
	ymax, step := niceMax(max, 4)
	dec := decimals(step)
	yFmt := func(v float64) string { return num(v, dec) }
	plotH := float64(h - top - bottom)
	for i := 0; i <= 20 && float64(i)*step <= ymax+step/2; i++ {
		v := float64(i) * step
		y := float64(h-bottom) - plotH*(v/ymax)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, left, y, chartW-right, y, gridCol)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>`, left-6, y+4, esc(yFmt(v)))
	}
	slot := float64(chartW-left-right) / float64(len(bins))
	for i, x := range bins {
		col := x.Color
		if col == "" {
			col = colBlue
		}
		bh := plotH * (finite(x.Value) / ymax)
		if bh < 0 {
			bh = 0
		}
		if x.Value > 0 && bh < 2 {
			bh = 2
		}
		bx := float64(left) + slot*float64(i) + slot*0.1
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			bx, float64(h-bottom)-bh, slot*0.8, bh, col, esc(x.Label), esc(x.Display))
		if x.Display != "" && x.Value > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="val">%s</text>`, bx+slot*0.4, float64(h-bottom)-bh-4, esc(x.Display))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" class="tick">%s</text>`, bx+slot*0.4, h-bottom+16, esc(truncate(x.Label, int(slot/6)+1)))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, h-bottom, chartW-right, h-bottom, axisCol)
	return svgClose(&b, "")
}

// TimeAxis labels a time axis: Format writes a tick's label; ticks fall on round times
// (every 5 minutes, every hour, every midnight …) in Loc (nil = UTC).
type TimeAxis struct {
	Format func(time.Time) string
	Loc    *time.Location
}

// tickSteps are the spacings of time ticks, smallest first.
var tickSteps = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour}

// timeTicks returns 2 to 7 round times within [t0, t1], aligned in loc (days at midnight).
func timeTicks(t0, t1 time.Time, loc *time.Location) []time.Time {
	if loc == nil {
		loc = time.UTC
	}
	span := t1.Sub(t0)
	if span <= 0 {
		return []time.Time{t0}
	}
	var step time.Duration
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	if step == 0 { // more than half a year: evenly spaced
		var out []time.Time
		for i := 0; i <= 4; i++ {
			out = append(out, t0.Add(span/4*time.Duration(i)))
		}
		return out
	}
	var first time.Time
	if step >= 24*time.Hour {
		l := t0.In(loc)
		first = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	} else {
		_, off := t0.In(loc).Zone()
		shift := time.Duration(off) * time.Second
		first = t0.Add(shift).Truncate(step).Add(-shift)
	}
	days := int(step / (24 * time.Hour))
	var out []time.Time
	for t := first; !t.After(t1) && len(out) < 20; {
		if !t.Before(t0) {
			out = append(out, t)
		}
		if days > 0 {
			t = t.AddDate(0, 0, days) // whole days, across DST changes
		} else {
			t = t.Add(step)
		}
	}
	return out
}

// tickAnchor keeps a tick label inside the chart near its edges.
func tickAnchor(x float64, left, right int) string {
	switch {
	case x < float64(left)+30:
		return "start"
	case x > float64(right)-30:
		return "end"
	}
	return "middle"
}

// Point is one sample of a time series.
type Point struct {
	T time.Time
	V float64
}

// LineChart draws one time series as a line over a light area, with time and value axes.
func LineChart(id, title, empty string, pts []Point, color string, num func(float64, int) string, axis TimeAxis) template.HTML {
	tFmt := axis.Format
	if len(pts) == 0 {
		return noData(id, title, empty)
	}
	const h, top, bottom, left, right = 260, 20, 40, 80, 30
	var b strings.Builder
	svgOpen(&b, id, title, h)
	t0, t1 := pts[0].T, pts[len(pts)-1].T
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	max := 0.0
	pts = append([]Point(nil), pts...)
	for i := range pts {
		pts[i].V = math.Max(finite(pts[i].V), 0)
		max = math.Max(max, pts[i].V)
	}
	ymax, step := niceMax(max, 4)
	dec := decimals(step)
	yFmt := func(v float64) string { return num(v, dec) }
	plotW, plotH := float64(chartW-left-right), float64(h-top-bottom)
	x := func(t time.Time) float64 { return float64(left) + plotW*float64(t.Sub(t0))/float64(t1.Sub(t0)) }
	y := func(v float64) float64 { return float64(h-bottom) - plotH*(v/ymax) }
	for i := 0; i <= 20 && float64(i)*step <= ymax+step/2; i++ {
		v := float64(i) * step
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, left, y(v), chartW-right, y(v), gridCol)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>`, left-6, y(v)+4, esc(yFmt(v)))
	}
	for _, t := range timeTicks(t0, t1, axis.Loc) {
		anchor := tickAnchor(x(t), left, chartW-right)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`, x(t), h-bottom, x(t), h-bottom+5, axisCol)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" class="tick">%s</text>`, x(t), h-bottom+20, anchor, esc(tFmt(t)))
	}
	var line strings.Builder
	for i, p := range pts {
		if i > 0 {
			line.WriteByte(' ')
		}
		fmt.Fprintf(&line, "%.1f,%.1f", x(p.T), y(p.V))
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polygon points="%.1f,%.1f %s %.1f,%.1f" fill="%s" fill-opacity="0.15"/>`, x(pts[0].T), y(0), line.String(), x(pts[len(pts)-1].T), y(0), color)
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5" stroke-linejoin="round"/>`, line.String(), color)
	}
	for _, p := range pts {
		if len(pts) <= 60 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s</title></circle>`, x(p.T), y(p.V), color, esc(tFmt(p.T)), esc(num(p.V, dec+1)))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, h-bottom, chartW-right, h-bottom, axisCol)
	return svgClose(&b, "")
}

// GanttRow is one bar of a timeline.
type GanttRow struct {
	Label      string
	Start, End time.Time
	// WindowEnd, when set, draws a light band from Start to it behind the bar (the time
	// allowed, e.g. a cutover window).
	WindowEnd time.Time
	Note      string // shown right of the bar
	Color     string
}

// Gantt draws one horizontal bar per row over a shared time axis.
func Gantt(id, title, empty string, rows []GanttRow, axis TimeAxis) template.HTML {
	tFmt := axis.Format
	if len(rows) == 0 {
		return noData(id, title, empty)
	}
	const rowH, top, bottom, left, right = 30, 10, 40, 150, 30
	h := top + bottom + rowH*len(rows)
	var b strings.Builder
	svgOpen(&b, id, title, h)
	t0, t1 := rows[0].Start, rows[0].End
	for _, r := range rows {
		if r.Start.Before(t0) {
			t0 = r.Start
		}
		if r.End.After(t1) {
			t1 = r.End
		}
		if r.WindowEnd.After(t1) {
			t1 = r.WindowEnd
		}
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Hour)
	}
	plotW := float64(chartW - left - right)
	x := func(t time.Time) float64 { return float64(left) + plotW*float64(t.Sub(t0))/float64(t1.Sub(t0)) }
	for _, t := range timeTicks(t0, t1, axis.Loc) {
		anchor := tickAnchor(x(t), left, chartW-right)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`, x(t), top, x(t), h-bottom+5, gridCol)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" class="tick">%s</text>`, x(t), h-bottom+20, anchor, esc(tFmt(t)))
	}
	for i, r := range rows {
		y := top + i*rowH
		col := r.Color
		if col == "" {
			col = palette[i%len(palette)]
		}
		w := x(r.End) - x(r.Start)
		if w < 3 {
			w = 3
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="lbl">%s<title>%s</title></text>`, left-8, y+rowH/2+4, esc(truncate(r.Label, 22)), esc(r.Label))
		if r.WindowEnd.After(r.Start) {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.15" stroke="%s" stroke-opacity="0.4" stroke-dasharray="3 2"/>`,
				x(r.Start), y+3, x(r.WindowEnd)-x(r.Start), rowH-6, col, col)
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="3"><title>%s: %s – %s</title></rect>`,
			x(r.Start), y+5, w, rowH-10, col, esc(r.Label), esc(tFmt(r.Start)), esc(tFmt(r.End)))
		if r.Note != "" {
			tx, anchor := x(r.Start)+w+6, "start"
			if tx > chartW-right-120 {
				tx, anchor = x(r.Start)-6, "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" class="val">%s</text>`, tx, y+rowH/2+4, anchor, esc(r.Note))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, left, h-bottom, chartW-right, h-bottom, axisCol)
	return svgClose(&b, "")
}

// GraphNode is a node of the delegation graph.
type GraphNode struct {
	ID    string
	Label string
	Color string // "" = the colour of its component
}

// GraphEdge goes From (the owner who grants) To (the grantee).
type GraphEdge struct{ From, To string }

// maxGraphNodes bounds the nodes drawn (the largest components first); the tables list all.
const maxGraphNodes = 240

// DelegationGraph draws each connected component of the graph in its own cell, nodes on a
// circle, edges as arrows; isolated nodes are left out. The caption says how many
// components and nodes were drawn (captionFmt gets components, nodes drawn, nodes left out).
func DelegationGraph(id, title, empty string, nodes []GraphNode, edges []GraphEdge, caption func(comps, drawn, left int) string) template.HTML {
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n.ID] = i
	}
	parent := make([]int, len(nodes))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	linked := make([]bool, len(nodes))
	type e2 struct{ a, b int }
	var es []e2
	seen := map[e2]bool{}
	for _, e := range edges {
		a, okA := idx[e.From]
		c, okB := idx[e.To]
		if !okA || !okB || a == c || seen[e2{a, c}] {
			continue
		}
		seen[e2{a, c}] = true
		es = append(es, e2{a, c})
		linked[a], linked[c] = true, true
		parent[find(a)] = find(c)
	}
	comps := map[int][]int{}
	for i := range nodes {
		if linked[i] {
			r := find(i)
			comps[r] = append(comps[r], i)
		}
	}
	if len(comps) == 0 {
		return noData(id, title, empty)
	}
	var list [][]int
	for _, c := range comps {
		sort.Slice(c, func(i, j int) bool { return nodes[c[i]].ID < nodes[c[j]].ID })
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return nodes[list[i][0]].ID < nodes[list[j][0]].ID
	})
	drawn, leftOut := 0, 0
	var keep [][]int
	for _, c := range list {
		if drawn+len(c) > maxGraphNodes && len(keep) > 0 {
			leftOut += len(c)
			continue
		}
		keep = append(keep, c)
		drawn += len(c)
	}
	// Layout: each component a square cell sized by its node count, packed in shelves.
	type cell struct {
		comp   []int
		x, y   float64
		size   float64
		colour string
	}
	const pad = 12.0
	var cells []cell
	cx, cy, shelf := pad, pad, 0.0
	for i, c := range keep {
		r := 28.0
		if len(c) > 2 {
			r = math.Max(40, 11*float64(len(c))/math.Pi)
		}
		size := 2*r + 130
		if size > chartW-2*pad {
			size = chartW - 2*pad
		}
		if cx+size > chartW-pad {
			cx, cy = pad, cy+shelf+pad
			shelf = 0
		}
		cells = append(cells, cell{comp: c, x: cx, y: cy, size: size, colour: seriesPalette[i%len(seriesPalette)]})
		cx += size + pad
		shelf = math.Max(shelf, size)
	}
	h := int(cy + shelf + pad)
	var b strings.Builder
	svgOpen(&b, id, title, h)
	fmt.Fprintf(&b, `<defs><marker id="%s-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker></defs>`, esc(id), axisCol)
	pos := map[int][2]float64{}
	angle := map[int]float64{}
	for _, c := range cells {
		n := len(c.comp)
		r := (c.size - 130) / 2
		mx, my := c.x+c.size/2, c.y+c.size/2
		for k, ni := range c.comp {
			a := 2*math.Pi*float64(k)/float64(n) - math.Pi/2
			if n == 2 {
				a = math.Pi * float64(k)
			}
			pos[ni] = [2]float64{mx + r*math.Cos(a), my + r*math.Sin(a)}
			angle[ni] = a
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" rx="6"/>`, c.x, c.y, c.size, c.size, gridCol)
	}
	const nodeR = 7.0
	for _, e := range es {
		p, ok1 := pos[e.a]
		q, ok2 := pos[e.b]
		if !ok1 || !ok2 {
			continue
		}
		dx, dy := q[0]-p[0], q[1]-p[1]
		d := math.Hypot(dx, dy)
		if d < 2*nodeR {
			continue
		}
		ux, uy := dx/d, dy/d
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" marker-end="url(#%s-arrow)"/>`,
			p[0]+ux*nodeR, p[1]+uy*nodeR, q[0]-ux*(nodeR+1), q[1]-uy*(nodeR+1), axisCol, esc(id))
	}
	for _, c := range cells {
		for _, ni := range c.comp {
			p := pos[ni]
			col := c.colour
			if nodes[ni].Color != "" {
				col = nodes[ni].Color
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="%s"><title>%s</title></circle>`, p[0], p[1], nodeR, col, esc(nodes[ni].ID))
			// The label sits outside the circle, away from the edges.
			a := angle[ni]
			lx, ly := p[0]+(nodeR+4)*math.Cos(a), p[1]+(nodeR+4)*math.Sin(a)+4
			anchor := "middle"
			switch {
			case len(c.comp) == 2:
				lx, ly = p[0], p[1]+nodeR+12
			case math.Cos(a) > 0.3:
				anchor = "start"
			case math.Cos(a) < -0.3:
				anchor = "end"
			case math.Sin(a) > 0:
				ly += 8
			default:
				ly -= 2
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" class="node">%s</text>`, lx, ly, anchor, esc(truncate(nodes[ni].Label, 16)))
		}
	}
	return svgClose(&b, caption(len(keep), drawn, leftOut))
}
