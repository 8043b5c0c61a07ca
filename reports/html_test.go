package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reportCase renders one report into dir and lists the charts its HTML must show.
type reportCase struct {
	name   string
	write  func(dir string, o Options) (*Result, error)
	charts []string
	// roundTrip decodes a JSON document the report wrote and compares it with the input.
	roundTrip func([]byte) error
}

// sameAfterJSON checks that b decodes into a value equal to in (compared through JSON, so
// that time zones and nil/empty slices compare as JSON does).
func sameAfterJSON[T any](in *T) func([]byte) error {
	return func(b []byte) error {
		var out T
		if err := json.Unmarshal(b, &out); err != nil {
			return err
		}
		x, _ := json.Marshal(in)
		y, _ := json.Marshal(&out)
		if !bytes.Equal(x, y) {
			return fmt.Errorf("does not read back as the input:\n%s", firstDiff(string(y), string(x)))
		}
		return nil
	}
}

func reportCases() []reportCase {
	return []reportCase{
		{"run", func(dir string, o Options) (*Result, error) { return WriteRun(dir, runFixture(), o) },
			[]string{"chart-throughput-items", "chart-throughput-bytes", "chart-kinds", "chart-sizes"}, sameAfterJSON(runFixture())},
		{"audit", func(dir string, o Options) (*Result, error) { return WriteAudit(dir, auditFixture(), o) },
			[]string{"chart-kinds", "chart-sizes", "chart-types", "chart-delegations", "chart-estimates"}, sameAfterJSON(auditFixture())},
		{"verify", func(dir string, o Options) (*Result, error) { return WriteVerify(dir, verifyFixture(), o) },
			[]string{"chart-kinds", "chart-differences"}, sameAfterJSON(verifyFixture())},
		{"plan", func(dir string, o Options) (*Result, error) { return WritePlan(dir, planFixture(), o) },
			[]string{"chart-waves", "chart-wave-load", "chart-groups"}, sameAfterJSON(planFixture())},
	}
}

// TestHTMLInChromium renders every report in both languages, opens each in headless
// Chromium and checks: no console message, no exception, no request but the file itself,
// every chart laid out and drawn (palette-coloured pixels in its box on the screenshot), and
// the page prints.
func TestHTMLInChromium(t *testing.T) {
	requireChromium(t)
	b := startBrowser(t)
	for _, rc := range reportCases() {
		for _, lang := range Langs {
			t.Run(rc.name+"/"+string(lang), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), string(lang))
				res, err := rc.write(dir, Options{Lang: lang, Formats: []Format{HTML}, Generated: fixedNow})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.MissingKeys) > 0 {
					t.Errorf("missing message keys: %v", res.MissingKeys)
				}
				b.t = t
				pc := b.load(res.Files[0], 1200)
				for _, c := range pc.Console {
					t.Errorf("console: %s", c)
				}
				for _, u := range pc.Requests {
					t.Errorf("the report requested %s (it must need no network and no other file)", u)
				}
				if pc.Title == "" {
					t.Error("no document title")
				}
				if pc.Width > 1200 {
					t.Errorf("the page is %.0f px wide in a 1200 px window: something overflows", pc.Width)
				}
				got := map[string]chartBox{}
				for _, c := range pc.Charts {
					got[c.ID] = c
				}
				for _, id := range rc.charts {
					c, ok := got[id]
					if !ok {
						t.Errorf("chart %s missing (charts on the page: %v)", id, pc.Charts)
						continue
					}
					if c.W < 300 || c.H < 50 {
						t.Errorf("chart %s laid out at %.0f×%.0f px", id, c.W, c.H)
					}
					if n := chartPixels(pc.Screenshot, c); n < 150 {
						t.Errorf("chart %s: %d pixels of chart colours in its box on the screenshot: not drawn", id, n)
					}
				}
				if pc.PDF < 5000 {
					t.Errorf("printed PDF is %d bytes", pc.PDF)
				}
				if lang == French { // the longer language, in a narrow window
					if n := b.load(res.Files[0], 700); n.Width > 700 || len(n.Console) > 0 {
						t.Errorf("in a 700 px window: %.0f px wide, console %v", n.Width, n.Console)
					}
				}
			})
		}
	}
}

// TestHostileNamesEscaped: names of folders and people are outside input; in every report
// they come out as text, never as markup.
func TestHostileNamesEscaped(t *testing.T) {
	for _, rc := range reportCases() {
		dir := t.TempDir()
		res, err := rc.write(dir, Options{Lang: French, Formats: []Format{HTML, CSV}, Generated: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.Files[0])
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		for _, bad := range []string{"<script>console", "<img src=x", "onerror=\"console"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s.html holds %q unescaped", rc.name, bad)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;console.error(&#39;xss&#39;)") && !strings.Contains(page, "&lt;script&gt;console.error(&#34;xss&#34;)") {
			t.Errorf("%s.html does not show the hostile name as text", rc.name)
		}
		if strings.Count(page, "<script") > 0 {
			t.Errorf("%s.html holds a script element", rc.name)
		}
		// CSV: a formula-looking name is neutralised.
		for _, f := range res.Files[1:] {
			c, _ := os.ReadFile(f)
			for _, line := range strings.Split(string(c), "\r\n") {
				for _, field := range strings.Split(line, ";") {
					if strings.HasPrefix(strings.Trim(field, `"`), "=HYPERLINK") {
						t.Errorf("%s: formula cell %q", filepath.Base(f), field)
					}
				}
			}
		}
	}
}
