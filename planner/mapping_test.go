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
	f.Add("\ufeffSource Email;Destination Email;Wave;Flags\r\na@b.c;d@e.f;2;VIP\r\n")
	f.Add("flags,wave,Destination Login Name,Source Login Name\n,,x,a@b.c\n")
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

// TestParseMappingMigratorHeaders: the bulk-add files of the commercial migrators, columns
// in any order, with a Wave and a Flags column, French Excel's BOM and ';'.
func TestParseMappingMigratorHeaders(t *testing.T) {
	for name, in := range map[string]string{
		"migrationwiz": "Source Email,Destination Email,Wave,Flags\r\nalice@contoso.example,alice@example.fr,2,ShowFolders\r\nbob@contoso.example,bob@example.fr,,\r\n",
		"french excel": "\ufeffSource Email;Destination Email;Wave;Flags\r\nalice@contoso.example;alice@example.fr;2;ShowFolders\r\nbob@contoso.example;bob@example.fr;;\r\n",
		"reordered":    "flags,wave,Destination Login Name,Source Login Name,Notes\nShowFolders,2,alice@example.fr,alice@contoso.example,x\n,,bob@example.fr,bob@contoso.example,y\n",
	} {
		got, err := ParseMapping(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: ParseMapping() = %v", name, err)
		}
		want := []MappingEntry{
			{Source: "alice@contoso.example", Target: "alice@example.fr", Wave: 2, Flags: "ShowFolders", Line: 2},
			{Source: "bob@contoso.example", Target: "bob@example.fr", Line: 3},
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: ParseMapping() = %+v, want %+v", name, got, want)
		}
	}
}

func TestParseMappingHeaderErrors(t *testing.T) {
	for in, want := range map[string][]string{
		"Email,Login\nalice@contoso.example,alice\n":                                         {`line 1: "Email,Login" is neither a header`},
		"alice,alice\nbob@contoso.example,bob\n":                                             {`line 1: "alice,alice" is neither a header`},
		"Destination Email,Wave\nalice@contoso.example,1\n":                                  {"line 1: the header names no source column"},
		"Source Email,Destination Email,Wave\nalice@contoso.example,alice,first\n":           {`line 2: wave "first" is not a wave number`},
		"Source Email,Destination Email,Wave\nalice@contoso.example,alice,0\n":               {`line 2: wave "0" is not a wave number`},
		"Source Email,Destination Email\nalice@contoso.example\n":                            {"line 2: 1 fields where the header has 2"},
		"Source Email,Destination Email\n,alice\n":                                           {"line 2: source address empty"},
		"Source Email,Destination Email\nalice@contoso.example,ali ce\n":                     {`line 2: destination login "ali ce" contains a space`},
		"Source,Target\nAlice <alice@contoso.example>,alice\n":                               {`line 2: "Alice <alice@contoso.example>" is not a mailbox address`},
		"Source Email,Source,Destination Email\nalice@contoso.example,a@contoso.example,x\n": {"line 1: two source columns"},
	} {
		_, err := ParseMapping(strings.NewReader(in))
		if err == nil {
			t.Errorf("ParseMapping(%q) accepted it", in)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseMapping(%q) = %q, want it to say %q", in, err, w)
			}
		}
	}
}
