package reports

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
)

// TestPlannerTestdata renders documents written by the planner packages' code (copies of
// their test data, taken when these reports were written: planner/waves/testdata/audit.json
// and plan.golden.json, planner/verify/testdata/report.json), in both languages, with every
// message found.
func TestPlannerTestdata(t *testing.T) {
	read := func(path string, v any) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var a audit.Report
	read("testdata/planner/audit.json", &a)
	var v verify.Report
	read("testdata/planner/verify.json", &v)
	var p waves.Plan
	read("testdata/planner/plan.json", &p)
	for _, lang := range Langs {
		o := Options{Lang: lang, Generated: fixedNow}
		for name, w := range map[string]func(string) (*Result, error){
			"audit":  func(dir string) (*Result, error) { return WriteAudit(dir, &a, o) },
			"verify": func(dir string) (*Result, error) { return WriteVerify(dir, &v, o) },
			"plan":   func(dir string) (*Result, error) { return WritePlan(dir, &p, o) },
		} {
			res, err := w(t.TempDir())
			if err != nil {
				t.Fatalf("%s/%s: %v", name, lang, err)
			}
			if len(res.MissingKeys) > 0 {
				t.Errorf("%s/%s: missing message keys %v", name, lang, res.MissingKeys)
			}
			if len(res.Files) < 3 {
				t.Errorf("%s/%s: wrote %v", name, lang, res.Files)
			}
		}
	}
}
