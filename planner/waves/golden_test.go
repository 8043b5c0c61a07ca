package waves

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract/exchangecsv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s", name, got)
	}
}

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func auditInventory(t *testing.T) (*Inventory, Throughput) {
	t.Helper()
	inv, tp, err := ReadAudit(open(t, "audit.json"))
	if err != nil {
		t.Fatalf("ReadAudit() = %v", err)
	}
	return inv, tp
}

var goldenStart = time.Date(2026, 12, 4, 20, 0, 0, 0, time.FixedZone("CET", 3600))

// TestGoldenPlan: a town hall's audit (a shared mailbox with its members, a director and
// assistant too large for a weekend, a calendar delegation, a room, a delegation to a
// mailbox outside the mapping) and a MigrationWiz-style mapping from French Excel (BOM,
// ';', two pins) give the plan.yaml and JSON of the golden files, and plan.yaml reads back
// to the same plan.
func TestGoldenPlan(t *testing.T) {
	inv, tp := auditInventory(t)
	mbs, err := ReadMapping(open(t, "mapping.csv"), inv)
	if err != nil {
		t.Fatalf("ReadMapping() = %v", err)
	}
	p, err := Build(mbs, inv.Links(), inv.Sized, Config{Start: goldenStart, Window: 48 * time.Hour, Every: 7 * 24 * time.Hour,
		Workers: 1, MailboxParallel: 2, BytesPerSecond: tp.BytesPerSecond, ItemsPerSecond: tp.ItemsPerSecond})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	p.Tool, p.Inputs = "bascule test", Inputs{Audit: "audit.json", Mapping: "mapping.csv"}
	var y bytes.Buffer
	if err := WriteYAML(&y, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.golden.yaml", y.Bytes())
	j, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.golden.json", append(j, '\n'))

	back, err := ReadYAML(bytes.NewReader(y.Bytes()))
	if err != nil {
		t.Fatalf("ReadYAML(WriteYAML()) = %v", err)
	}
	var y2 bytes.Buffer
	if err := WriteYAML(&y2, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(y.Bytes(), y2.Bytes()) {
		t.Errorf("plan.yaml does not read back to the same plan:\n%s", y2.Bytes())
	}

	// What the golden file shows, checked in words: the shared mailbox's members together,
	// the pins, the oversized group alone and reported.
	waveOf := map[string]int{}
	for _, w := range p.Waves {
		for _, m := range w.Mailboxes {
			waveOf[m.Source] = w.Number
		}
	}
	same := func(a ...string) {
		for _, x := range a[1:] {
			if waveOf[x+"@contoso.example"] != waveOf[a[0]+"@contoso.example"] {
				t.Errorf("%s (wave %d) and %s (wave %d) are linked but in different waves", a[0], waveOf[a[0]+"@contoso.example"], x, waveOf[x+"@contoso.example"])
			}
		}
	}
	same("accueil", "marie.dupont", "jean.martin", "lea.bernard")
	same("directeur", "assistante")
	same("luc.moreau", "claire.fabre")
	if waveOf["sophie.roux@contoso.example"] != 1 || waveOf["luc.moreau@contoso.example"] != 3 {
		t.Errorf("pins not honoured: %v", waveOf)
	}
	var codes []string
	for _, f := range p.Findings {
		codes = append(codes, f.Code)
	}
	if !slices.Contains(codes, FindingGroupOverWindow) || !slices.Contains(codes, FindingUnmappedLink) {
		t.Errorf("findings %v, want %s and %s", codes, FindingGroupOverWindow, FindingUnmappedLink)
	}
	// Wave N as a mapping is its mailboxes, source → target.
	m, err := back.Mapping(waveOf["directeur@contoso.example"])
	if err != nil || len(m) != 2 || m[0].Source != "directeur@contoso.example" || m[0].Target != "directeur@mairie.example.fr" {
		t.Errorf("Mapping() = %+v, %v", m, err)
	}
	if _, err := back.Mapping(len(p.Waves) + 1); err == nil || !strings.Contains(err.Error(), "has no wave") {
		t.Errorf("Mapping(missing wave) = %v", err)
	}
}

// TestGoldenMappingErrors: every bad line of a mapping file is reported at once, in line
// order, with what is wrong, whether the CSV layer or the audit finds it.
func TestGoldenMappingErrors(t *testing.T) {
	inv, _ := auditInventory(t)
	for _, name := range []string{"bad-lines", "bad-audit"} {
		_, err := ReadMapping(open(t, name+".csv"), inv)
		if err == nil {
			t.Fatalf("%s: ReadMapping() accepted it", name)
		}
		golden(t, name+".golden", []byte(err.Error()+"\n"))
	}
	// Pins that split a group: both lines named, with the links between them.
	mbs, err := ReadMapping(open(t, "bad-pins.csv"), inv)
	if err != nil {
		t.Fatalf("ReadMapping(bad-pins) = %v", err)
	}
	_, err = Build(mbs, inv.Edges, true, Config{Start: goldenStart, Window: 48 * time.Hour})
	if err == nil {
		t.Fatal("Build() accepted conflicting pins")
	}
	golden(t, "bad-pins.golden", []byte(err.Error()+"\n"))
}

// TestPlanFromExchangeExports: without an audit, the delegations come from Exchange's
// exports (names resolved through mailboxes.csv), the mapping is checked against
// mailboxes.csv, and the plan says that it has no sizes.
func TestPlanFromExchangeExports(t *testing.T) {
	exp, err := exchangecsv.Load(filepath.Join("testdata", "exports"))
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inventory{}
	inv.AddGrants(exp.AllGrants())
	for _, m := range exp.Mailboxes() {
		inv.AddMailbox(Mailbox{Source: m.Address})
	}
	mbs, err := ReadMapping(open(t, "mapping-exports.csv"), inv)
	if err != nil {
		t.Fatalf("ReadMapping() = %v", err)
	}
	p, err := Build(mbs, inv.Links(), inv.Sized, Config{Start: goldenStart, MaxWaveMailboxes: 3, Window: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var groups [][]string
	for _, g := range p.Groups {
		groups = append(groups, g.Mailboxes)
	}
	want := [][]string{
		{"accueil@contoso.example", "jean.martin@contoso.example", "marie.dupont@contoso.example"},
		{"assistante@contoso.example", "directeur@contoso.example"},
	}
	slices.SortFunc(groups, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if len(groups) != 2 || !slices.Equal(groups[0], want[0]) || !slices.Equal(groups[1], want[1]) {
		t.Fatalf("groups %v, want %v (edges %+v)", groups, want, inv.Edges)
	}
	if len(p.Waves) != 2 {
		t.Errorf("%d waves for 6 mailboxes by 3, want 2", len(p.Waves))
	}
	for _, w := range p.Waves {
		if len(w.Mailboxes) != 3 || w.DurationSeconds != 0 {
			t.Errorf("wave %d: %d mailboxes, %gs, want 3 and no duration", w.Number, len(w.Mailboxes), w.DurationSeconds)
		}
	}
	if !slices.ContainsFunc(p.Findings, func(f Finding) bool { return f.Code == FindingUnsized }) {
		t.Errorf("no %s finding: %+v", FindingUnsized, p.Findings)
	}
	// A source not in mailboxes.csv is a bad line.
	_, err = ReadMapping(strings.NewReader("Source Email,Destination Email\nnina.blanc@contoso.example,nina\nparti@contoso.example,parti\n"), inv)
	if err == nil || !strings.Contains(err.Error(), "line 3: source parti@contoso.example is not a mailbox of the source tenant") {
		t.Errorf("ReadMapping(unknown source) = %v", err)
	}
}

func TestReadYAMLRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "empty plan file",
		"schema: 2\n":                    "plan schema 2",
		"schema: 1\nwavez: []\n":         "not a plan file",
		"schema: 1\nwaves:\n- number: 2": "numbered 2",
		"schema: 1\nwaves:\n- number: 1\n  mailboxes:\n  - {source: a@b.c, target: a}\n- number: 2\n  mailboxes:\n  - {source: A@b.c, target: b}\n": "in waves 1 and 2",
		"schema: 1\nwaves:\n- number: 1\n  mailboxes:\n  - {source: a@b.c}\n":                                                                       "without source address or target",
	} {
		_, err := ReadYAML(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadYAML(%q) = %v, want %q", in, err, want)
		}
	}
}

// FuzzReadYAML: a plan file from outside never panics the reader, and what it accepts
// gives a mapping for each of its waves or a clear error.
func FuzzReadYAML(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "plan.golden.yaml"))
	f.Add(string(b))
	f.Add("schema: 1\nwaves: [{number: 1, mailboxes: [{source: a@b.c, target: a}]}]\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ReadYAML(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, w := range p.Waves {
			if m, err := p.Mapping(w.Number); err == nil && len(m) != len(w.Mailboxes) {
				t.Fatalf("wave %d: %d entries for %d mailboxes", w.Number, len(m), len(w.Mailboxes))
			}
		}
	})
}

// FuzzReadMapping: any mapping file gives mailboxes or an error, never a panic; accepted
// mailboxes all have a source address and a target, each once.
func FuzzReadMapping(f *testing.F) {
	for _, n := range []string{"mapping.csv", "bad-lines.csv", "bad-pins.csv"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		mbs, err := ReadMapping(strings.NewReader(in), nil)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range mbs {
			if !strings.Contains(m.Source, "@") || m.Target == "" || seen[strings.ToLower(m.Source)] {
				t.Fatalf("bad mailbox accepted: %+v", m)
			}
			seen[strings.ToLower(m.Source)] = true
		}
		if _, err := Build(mbs, nil, false, Config{}); err != nil {
			t.Fatalf("Build() = %v", err)
		}
	})
}

// FuzzReadAudit: an audit file from outside never panics the reader.
func FuzzReadAudit(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "audit.json"))
	f.Add(string(b))
	f.Add(`{"schema":1,"mailboxes":[{"address":"a@b.c","delegations_out":[{"owner":"a@b.c","grantee":"d@b.c","scope":"mailbox"}]}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		inv, _, err := ReadAudit(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range inv.Edges {
			if e.Owner == "" || e.Grantee == "" {
				t.Fatalf("edge without an end: %+v", e)
			}
		}
	})
}
