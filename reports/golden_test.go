package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden writes every report's CSV and JSON in both languages (English with ',', French
// with ';') and compares them byte for byte with testdata/golden/<lang>/ (go test -update
// rewrites them).
func TestGolden(t *testing.T) {
	for _, rc := range reportCases() {
		for _, lang := range Langs {
			t.Run(rc.name+"/"+string(lang), func(t *testing.T) {
				dir := t.TempDir()
				res, err := rc.write(dir, Options{Lang: lang, Formats: []Format{CSV, JSON}, Generated: fixedNow})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.MissingKeys) > 0 {
					t.Errorf("missing message keys: %v", res.MissingKeys)
				}
				gdir := filepath.Join("testdata", "golden", string(lang))
				for _, f := range res.Files {
					got, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					if filepath.Ext(f) == ".json" && rc.name != "run" {
						// audit.json, plan.json, verify.json are their planner types as they
						// are (tested there, and fields are added there): they must read back
						// into the same value.
						if err := rc.roundTrip(got); err != nil {
							t.Errorf("%s: %v", filepath.Base(f), err)
						}
						continue
					}
					gp := filepath.Join(gdir, filepath.Base(f))
					if *update {
						os.MkdirAll(gdir, 0o755) //nolint:errcheck
						if err := os.WriteFile(gp, got, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(gp)
					if err != nil {
						t.Fatalf("%v (run go test -run TestGolden -update ./reports)", err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s differs from %s (go test -update to accept):\n%s", filepath.Base(f), gp, firstDiff(string(got), string(want)))
					}
				}
			})
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n got:  " + a + "\n want: " + b
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestCSVShape: every CSV starts with a UTF-8 BOM, ends lines with CRLF, parses back with
// its separator into rows of the header's width, and keeps hostile text intact (quoted).
func TestCSVShape(t *testing.T) {
	for _, rc := range reportCases() {
		for _, sep := range []rune{',', ';'} {
			dir := t.TempDir()
			res, err := rc.write(dir, Options{Lang: French, Formats: []Format{CSV}, CSVSeparator: sep, Generated: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) == 0 {
				t.Fatalf("%s: no CSV written", rc.name)
			}
			sawHostile := false
			for _, f := range res.Files {
				b, _ := os.ReadFile(f)
				body, ok := bytes.CutPrefix(b, []byte("\xEF\xBB\xBF"))
				if !ok {
					t.Errorf("%s: no UTF-8 BOM", f)
				}
				if bytes.Count(body, []byte("\r\n")) == 0 {
					t.Errorf("%s: no CRLF line end", f)
				}
				r := csv.NewReader(bytes.NewReader(body))
				r.Comma = sep
				rows, err := r.ReadAll()
				if err != nil {
					t.Errorf("%s (sep %q): %v", filepath.Base(f), sep, err)
					continue
				}
				for _, row := range rows {
					for _, cell := range row {
						if strings.Contains(cell, "<script>console.error('xss')</script>") {
							sawHostile = true
						}
						if sep == ';' && looksDecimalDot(cell) {
							t.Errorf("%s: %q has a decimal point under the ';' separator", filepath.Base(f), cell)
						}
					}
				}
			}
			if !sawHostile {
				t.Errorf("%s: the hostile name did not come back intact from any CSV", rc.name)
			}
		}
	}
}

func looksDecimalDot(s string) bool {
	i := strings.IndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
