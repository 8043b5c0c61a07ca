package sieve

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCase is one testdata/*.json: rules (Graph messageRule payloads), an out-of-office and
// the options.
type goldenCase struct {
	Options struct {
		Folders         map[string]string `json:"folders"`
		Trash           string            `json:"trash"`
		Addresses       []string          `json:"addresses"`
		InternalDomains []string          `json:"internalDomains"`
		Rewrite         []string          `json:"rewrite"`
	} `json:"options"`
	Rules []struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Sequence int             `json:"sequence"`
		Enabled  bool            `json:"enabled"`
		Payload  json.RawMessage `json:"payload"`
	} `json:"rules"`
	AutoReply *model.AutoReply `json:"autoReply"`
}

func loadCase(t testing.TB, path string) ([]model.Rule, *model.AutoReply, Options) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	rw, err := transform.ParseRewrites(c.Options.Rewrite)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Folders: c.Options.Folders, Trash: c.Options.Trash, Addresses: c.Options.Addresses,
		InternalDomains: c.Options.InternalDomains, Rewrite: rw}
	var rules []model.Rule
	for _, r := range c.Rules {
		rules = append(rules, model.Rule{ID: r.ID, Name: r.Name, Sequence: r.Sequence, Enabled: r.Enabled, Payload: r.Payload})
	}
	return rules, c.AutoReply, opt
}

// report renders what a Result says besides the script.
func report(res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rules carried: %d\nauto-reply: %v\n", res.Rules, res.AutoReply)
	for _, u := range res.Unmapped {
		fmt.Fprintf(&b, "unmapped %q: %s\n", u.Rule, u.Reason)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "skipped %q\n", s)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// TestGolden converts every testdata/*.json into testdata/*.sieve and *.report.txt, and
// compiles every script with Pigeonhole's and Cyrus's compilers.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 8 {
		t.Fatalf("only %d golden inputs", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			rules, ar, opt := loadCase(t, f)
			res, err := Script(rules, ar, opt)
			if err != nil {
				t.Fatalf("Script: %v", err)
			}
			golden(t, filepath.Join("testdata", name+".sieve"), res.Script)
			golden(t, filepath.Join("testdata", name+".report.txt"), []byte(report(res)))
			if len(res.Script) > 0 {
				compileAll(t, name, res.Script)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if len(got) == 0 {
			os.Remove(path)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) && len(got) == 0 {
		return
	}
	if err != nil {
		t.Fatalf("%v (go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept); got:\n%s", path, got)
	}
}
