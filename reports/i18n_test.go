package reports

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

func catalogs(t *testing.T) map[Lang]map[string]string {
	t.Helper()
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCatalogComplete fails when a key lacks a translation in one language, when a message
// is empty, or when two languages disagree on a message's placeholders.
func TestCatalogComplete(t *testing.T) {
	cats := catalogs(t)
	all := map[string]bool{}
	for _, m := range cats {
		for k := range m {
			all[k] = true
		}
	}
	ph := regexp.MustCompile(`\{\d+\}`)
	for k := range all {
		var ref []string
		for i, l := range Langs {
			msg, ok := cats[l][k]
			if !ok {
				t.Errorf("key %q has no %s translation", k, l)
				continue
			}
			if strings.TrimSpace(msg) == "" {
				t.Errorf("key %q is empty in %s", k, l)
			}
			p := ph.FindAllString(msg, -1)
			sort.Strings(p)
			p = uniq(p)
			if i == 0 {
				ref = p
			} else if strings.Join(p, ",") != strings.Join(ref, ",") {
				t.Errorf("key %q: placeholders %v in %s, %v in %s", k, p, l, ref, Langs[0])
			}
		}
		if base, ok := strings.CutSuffix(k, "#one"); ok && !all[base+"#other"] {
			t.Errorf("key %q has no #other form", k)
		}
		if base, ok := strings.CutSuffix(k, "#other"); ok && !all[base+"#one"] {
			t.Errorf("key %q has no #one form", k)
		}
	}
}

func uniq(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// TestFrenchTypography: a no-break space before ; : ! ? and %, never an ASCII quote or
// apostrophe (« » and ’), in every French message.
func TestFrenchTypography(t *testing.T) {
	for k, msg := range catalogs(t)[French] {
		r := []rune(msg)
		for i, c := range r {
			switch c {
			case ';', '!', '?', '%', ':':
				if i == 0 {
					continue
				}
				prev := r[i-1]
				if c == ':' && prev >= '0' && prev <= '9' { // 21:32
					continue
				}
				if prev != '\u00a0' && prev != '\u202f' {
					t.Errorf("fr %q: %q not preceded by a no-break space in %q", k, c, msg)
				}
			case '"':
				t.Errorf("fr %q: ASCII quote in %q (use « »)", k, msg)
			case '\'':
				t.Errorf("fr %q: ASCII apostrophe in %q (use ’)", k, msg)
			case '«':
				if i+1 < len(r) && r[i+1] != '\u00a0' && r[i+1] != '\u202f' {
					t.Errorf("fr %q: « without a no-break space after it", k)
				}
			case '»':
				if i == 0 || r[i-1] != '\u00a0' && r[i-1] != '\u202f' {
					t.Errorf("fr %q: » without a no-break space before it", k)
				}
			}
		}
	}
}

// keyUses finds the message keys used literally in the package's Go files and templates:
// T("…"), Tn("…"), t "…", tn "…" and enum prefixes.
var keyUse = regexp.MustCompile(`(?:\bT|\bTn|\bmsg)\(\s*"([a-z0-9_.]+)"|\{\{\s*(?:t|tn)\s+"([a-z0-9_.]+)"|\(\s*(?:t|tn)\s+"([a-z0-9_.]+)"`)

// TestKeysUsedExist fails when a template or the Go code uses a key that the catalogue lacks
// (keys that end in "." are prefixes completed at run time: see TestEnumDomains).
func TestKeysUsedExist(t *testing.T) {
	cats := catalogs(t)
	files, _ := filepath.Glob("*.go")
	tpls, _ := filepath.Glob("templates/*.tmpl")
	n := 0
	for _, f := range append(files, tpls...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		isTn := regexp.MustCompile(`(?:\bTn\(\s*|\btn\s+)"` + `([a-z0-9_.]+)"`)
		plural := map[string]bool{}
		for _, m := range isTn.FindAllStringSubmatch(string(b), -1) {
			plural[m[1]] = true
		}
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			key := m[1] + m[2] + m[3]
			if strings.HasSuffix(key, ".") {
				continue
			}
			n++
			keys := []string{key}
			if plural[key] {
				keys = []string{key + "#one", key + "#other"}
			}
			for _, k := range keys {
				if _, ok := cats[English][k]; !ok {
					t.Errorf("%s uses key %q, which the catalogue lacks", f, k)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("found only %d key uses: the scanner is broken", n)
	}
	if tpl, _ := os.ReadFile("templates/layout.html.tmpl"); !strings.Contains(string(tpl), `{{t "page.generated"`) {
		t.Error("the scanner's template pattern no longer matches the layout")
	}
}

// TestEnumDomains: every code of the domains the reports translate at run time (statuses,
// kinds …) has its message.
func TestEnumDomains(t *testing.T) {
	cats := catalogs(t)
	domains := map[string][]string{
		"status.":    {string(state.StatusDone), string(state.StatusInFlight), string(state.StatusFailed), string(state.StatusDeleted)},
		"mbstatus.":  {"pending", "running", "done", "failed"},
		"runstatus.": {"running", "done", "failed", "interrupted"},
		"kind.":      kindOrder,
		"unit.":      {"b", "kib", "mib", "gib", "tib", "pib", "mb", "gb", "tb"},
	}
	for i := 1; i <= 12; i++ {
		domains["month."] = append(domains["month."], strconv.Itoa(i))
		domains["month.short."] = append(domains["month.short."], strconv.Itoa(i))
	}
	for p, codes := range enumDomains() {
		domains[p] = append(domains[p], codes...)
	}
	for p, codes := range domains {
		for _, c := range codes {
			for _, l := range Langs {
				if _, ok := cats[l][p+c]; !ok {
					t.Errorf("%s: no message %q", l, p+c)
				}
			}
		}
	}
}

// TestFormats pins the number, size and date formats of both languages.
func TestFormats(t *testing.T) {
	en, _ := NewLocalizer(English, nil)
	fr, _ := NewLocalizer(French, nil)
	day := time.Date(2026, 11, 24, 21, 32, 0, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{en.Num(12345.6, 1), "12,345.6"},
		{fr.Num(12345.6, 1), "12\u202f345,6"},
		{fr.Int(1234567), "1\u202f234\u202f567"},
		{en.Int(-1234), "−1,234"},
		{fr.Int(999), "999"},
		{en.Date(day), "24 November 2026"},
		{fr.Date(day), "24 novembre 2026"},
		{fr.DateTime(day), "24 novembre 2026 à 21:32 UTC"},
		{en.DateTime(day), "24 November 2026, 21:32 UTC"},
		{en.Bytes(1536), "1.5\u00a0KiB"},
		{fr.Bytes(1536), "1,5\u00a0Kio"},
		{fr.Bytes(10 << 20), "10\u00a0Mio"},
		{en.Bytes(12), "12\u00a0B"},
		{fr.Percent(0.125), "12,5\u202f%"},
		{fr.roundBytes(100e6), "100\u00a0Mo"},
		{en.roundBytes(50e9), "50\u00a0GB"},
		{en.roundBytes(10 << 20), "10\u00a0MiB"},
		{en.Percent(0.125), "12.5%"},
		{fr.Duration(26*time.Hour + 5*time.Minute), "1 j 2 h"},
		{en.Duration(2*time.Hour + 5*time.Minute), "2 h 05 min"},
		{en.Duration(300 * time.Millisecond), "0.3 s"},
		{fr.Duration(30 * time.Minute), "30 min"},
		{en.Duration(6 * time.Hour), "6 h"},
		{en.Duration(48 * time.Hour), "2 d"},
		{fr.Tn("table.more", 0), "… et 0 ligne de plus\u00a0: voir les fichiers CSV et JSON."},
		{en.Tn("table.more", 0), "… and 0 more rows: see the CSV and JSON files."},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if en.T("no.such.key") != "⟦no.such.key⟧" || len(en.Missing()) != 1 {
		t.Errorf("a missing key is not reported: %v", en.Missing())
	}
	if _, err := ParseLang("de"); err == nil {
		t.Error("ParseLang(de) succeeded")
	}
	if l, err := ParseLang("fr-FR"); err != nil || l != French {
		t.Errorf("ParseLang(fr-FR) = %v, %v", l, err)
	}
}

// TestFindingCodes: every finding code is translated, plainly or in plural forms.
func TestFindingCodes(t *testing.T) {
	cats := catalogs(t)
	for p, codes := range findingCodes() {
		for _, c := range codes {
			for _, l := range Langs {
				_, plain := cats[l][p+c]
				_, plural := cats[l][p+c+"#one"]
				if !plain && !plural {
					t.Errorf("%s: finding code %q has no message", l, c)
				}
			}
		}
	}
}
