package ical

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenOptions are the options every golden test runs with.
var goldenOptions = Options{MailboxTimeZone: "W. Europe Standard Time", MaxInline: 64}

func init() {
	r, err := parseRewrites()
	if err != nil {
		panic(err)
	}
	goldenOptions.Rewrite = r
}

// TestGolden converts every testdata/*.json (task-*.json as tasks, the rest as events) and
// compares with testdata/*.golden.ics and, when there are warnings, *.warnings.txt.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 10 {
		t.Fatalf("only %d golden inputs", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			conv := Event
			if strings.HasPrefix(name, "task-") {
				conv = Task
			}
			res, err := conv(payload, goldenOptions)
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			warnings := strings.Join(res.Warnings, "\n")
			if warnings != "" {
				warnings += "\n"
			}
			icsPath := filepath.Join("testdata", name+".golden.ics")
			warnPath := filepath.Join("testdata", name+".warnings.txt")
			if *update {
				if err := os.WriteFile(icsPath, res.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(warnPath)
				if warnings != "" {
					if err := os.WriteFile(warnPath, []byte(warnings), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want, err := os.ReadFile(icsPath)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(res.Data, want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", icsPath, res.Data)
			}
			wantWarn, _ := os.ReadFile(warnPath)
			if warnings != string(wantWarn) {
				t.Errorf("warnings:\n%s\nwant:\n%s", warnings, wantWarn)
			}
		})
	}
}
