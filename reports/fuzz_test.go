package reports

import (
	"encoding/json"
	"encoding/xml"
	"html/template"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
)

// renderAll renders every format of a document in memory and checks the HTML's charts are
// well-formed XML.
func renderAll(t *testing.T, l *Localizer, d *document) {
	t.Helper()
	page, err := renderHTML(l, d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for {
		i := strings.Index(s, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "</svg>")
		if j < 0 {
			t.Fatal("unterminated svg")
		}
		var v any
		if err := xml.Unmarshal([]byte(s[i:i+j+6]), &v); err != nil && !strings.Contains(err.Error(), "unknown") {
			// xml.Unmarshal into any fails with "unknown type"; only syntax errors matter.
			dec := xml.NewDecoder(strings.NewReader(s[i : i+j+6]))
			for {
				if _, err := dec.Token(); err != nil {
					if err.Error() != "EOF" {
						t.Fatalf("chart is not well-formed XML: %v\n%s", err, s[i:i+j+6])
					}
					break
				}
			}
		}
		if strings.Contains(s[i:i+j], "NaN") || strings.Contains(s[i:i+j], "Inf") {
			t.Fatalf("chart holds NaN or Inf:\n%s", s[i:i+j+6])
		}
		s = s[i+j:]
	}
	if _, err := json.Marshal(d.JSON); err != nil {
		t.Fatal(err)
	}
}

// FuzzReportsFromJSON: any JSON the commands could be given renders without panic, into
// well-formed charts.
func FuzzReportsFromJSON(f *testing.F) {
	for _, v := range []any{runFixture(), auditFixture(), verifyFixture(), planFixture()} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`{"waves":[{"number":1,"start":"0001-01-01T00:00:00Z","end":"9999-12-31T00:00:00Z","mailboxes":[{"source":"a"}]}],"throughput":[{"bucket_seconds":-1,"points":[{"items":-5}]}]}`))
	f.Add([]byte(`{"totals":{"mailbox_sizes":[{"min":-1,"max":-2,"count":-3}]},"mailboxes":[{"estimate":{"seconds":1e308}}],"estimate":{"seconds":-1e308}}`))
	l, _ := NewLocalizer(French, nil)
	o, _ := Options{Lang: French, Generated: fixedNow}.normalize()
	f.Fuzz(func(t *testing.T, b []byte) {
		var run RunReport
		if json.Unmarshal(b, &run) == nil {
			renderAll(t, l, runDocument(l, &run, o))
		}
		var a audit.Report
		if json.Unmarshal(b, &a) == nil {
			renderAll(t, l, auditDocument(l, &a, o))
		}
		var v verify.Report
		if json.Unmarshal(b, &v) == nil {
			renderAll(t, l, verifyDocument(l, &v, o))
		}
		var p waves.Plan
		if json.Unmarshal(b, &p) == nil {
			renderAll(t, l, planDocument(l, &p, o))
		}
	})
}

// FuzzCharts: extreme values and hostile labels give well-formed charts.
func FuzzCharts(f *testing.F) {
	f.Add("label", 1.0, -1.0, int64(0), int64(1))
	f.Add(hostile, math.Inf(1), math.NaN(), int64(-1<<62), int64(1<<62))
	f.Add("\x00\xff<", 1e308, -1e308, int64(0), int64(0))
	l, _ := NewLocalizer(English, nil)
	f.Fuzz(func(t *testing.T, label string, a, b float64, t0, t1 int64) {
		ta, tb := time.Unix(0, t0), time.Unix(0, t1)
		d := &document{Sections: []section{{Charts: []template.HTML{
			BarChart("a", label, "none", []Bar{{Label: label, Value: a, Display: label}, {Label: label, Value: b}}),
			Histogram("b", label, "none", []Bar{{Label: label, Value: a}, {Label: label, Value: b}}, l.Num),
			LineChart("c", label, "none", []Point{{ta, a}, {tb, b}}, colBlue, l.Num, l.axisTime(tb.Sub(ta))),
			Gantt("d", label, "none", []GanttRow{{Label: label, Start: ta, End: tb, WindowEnd: tb, Note: label}, {Label: label, Start: tb, End: ta}}, l.axisTime(tb.Sub(ta))),
			DelegationGraph("e", label, "none", []GraphNode{{ID: label, Label: label}, {ID: "x", Label: label}, {ID: "y"}},
				[]GraphEdge{{From: label, To: "x"}, {From: "x", To: "y"}, {From: "y", To: label}}, func(int, int, int) string { return label }),
		}}}}
		renderAll(t, l, d)
	})
}
