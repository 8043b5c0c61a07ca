package planner

import (
	"strings"
	"testing"
)

func TestParseMapping(t *testing.T) {
	in := "\ufeffsource;target;password\nalice@contoso.example;alice;pw1\n# comment\n\nbob@contoso.example;;\n"
	got, err := ParseMapping(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ParseMapping() = %v", err)
	}
	if len(got) != 2 || got[0].Target != "alice" || got[0].Password != "pw1" || got[1].Source != "bob@contoso.example" || got[1].Target != "" {
		t.Fatalf("ParseMapping() = %+v", got)
	}
}

func TestParseMappingErrorsNameLines(t *testing.T) {
	in := "alice@contoso.example,alice\nnot-an-address,x\nalice@contoso.example,again\n"
	_, err := ParseMapping(strings.NewReader(in))
	if err == nil {
		t.Fatal("ParseMapping() accepted a bad file")
	}
	for _, want := range []string{"line 2", "not a mailbox address", "line 3", "already mapped on line 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// FuzzParseMapping: any input yields entries or an error, never a panic, and every entry
// returned has a source address.
func FuzzParseMapping(f *testing.F) {
	f.Add("source,target\nalice@contoso.example,alice\n")
	f.Add("\ufeffa@b.c;d;e\n#x\n\n")
	f.Add("\"unterminated,\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseMapping(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range got {
			if !strings.Contains(e.Source, "@") {
				t.Fatalf("entry without an address: %+v", e)
			}
		}
	})
}
