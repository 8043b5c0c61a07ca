package reports

import (
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lang is a report language.
type Lang string

// The languages every message exists in (a test fails if one lacks a key).
const (
	English Lang = "en"
	French  Lang = "fr"
)

// Langs lists the supported languages.
var Langs = []Lang{English, French}

// ParseLang reads "en" or "fr" (case-insensitive; "en-GB", "fr_FR" … keep their first part).
func ParseLang(s string) (Lang, error) {
	base := strings.ToLower(s)
	if i := strings.IndexAny(base, "-_"); i > 0 {
		base = base[:i]
	}
	for _, l := range Langs {
		if string(l) == base {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown report language %q (use en or fr)", s)
}

//go:embed messages/*.json
var messageFS embed.FS

// loadCatalogs reads messages/<lang>.json: one flat object of key → message. A message holds
// positional placeholders {0}, {1} …, filled by Localizer.T with values formatted for the
// language. A key whose message depends on a count exists as key#one and key#other (Tn).
var loadCatalogs = sync.OnceValues(func() (map[Lang]map[string]string, error) {
	out := map[Lang]map[string]string{}
	for _, l := range Langs {
		b, err := messageFS.ReadFile("messages/" + string(l) + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("messages/%s.json: %w", l, err)
		}
		out[l] = m
	}
	return out, nil
})

// Localizer formats messages, numbers, sizes and dates for one language. It is safe for
// concurrent use. A key missing from the catalogue renders as "⟦key⟧" and is remembered
// (Missing), so tests can fail on it while a user still gets a readable report.
type Localizer struct {
	lang Lang
	msgs map[string]string
	loc  *time.Location

	mu      sync.Mutex
	missing map[string]bool
}

// NewLocalizer returns the localizer of lang; dates are shown in loc (nil = UTC).
func NewLocalizer(lang Lang, loc *time.Location) (*Localizer, error) {
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	m, ok := cats[lang]
	if !ok {
		return nil, fmt.Errorf("no messages for language %q", lang)
	}
	if loc == nil {
		loc = time.UTC
	}
	return &Localizer{lang: lang, msgs: m, loc: loc, missing: map[string]bool{}}, nil
}

// Lang is the localizer's language.
func (l *Localizer) Lang() Lang { return l.lang }

// Missing lists the keys asked for that the catalogue lacks, sorted.
func (l *Localizer) Missing() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.missing {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the catalogue holds key.
func (l *Localizer) Has(key string) bool { _, ok := l.msgs[key]; return ok }

func (l *Localizer) msg(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	l.mu.Lock()
	l.missing[key] = true
	l.mu.Unlock()
	return "⟦" + key + "⟧"
}

// T returns the message key with its placeholders {0}, {1} … replaced by args, each
// formatted for the language: integers grouped ("12 345"), floats with one decimal
// ("12 345,6"), times as DateTime, durations as Duration, strings as they are.
func (l *Localizer) T(key string, args ...any) string {
	m := l.msg(key)
	if len(args) == 0 || !strings.Contains(m, "{") {
		return m
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(m, '{')
		if i < 0 {
			b.WriteString(m)
			break
		}
		j := strings.IndexByte(m[i:], '}')
		if j < 0 {
			b.WriteString(m)
			break
		}
		n, err := strconv.Atoi(m[i+1 : i+j])
		b.WriteString(m[:i])
		if err != nil || n < 0 || n >= len(args) {
			b.WriteString(m[i : i+j+1])
		} else {
			b.WriteString(l.Value(args[n]))
		}
		m = m[i+j+1:]
	}
	return b.String()
}

// Tn is T with the message chosen by the count n: key#one or key#other. French counts 0
// and 1 as singular, English only 1. n is also {0}.
func (l *Localizer) Tn(key string, n int64, args ...any) string {
	form := "other"
	if n == 1 || (l.lang == French && n == 0) {
		form = "one"
	}
	return l.T(key+"#"+form, append([]any{n}, args...)...)
}

// Value formats one placeholder value.
func (l *Localizer) Value(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return l.Int(int64(x))
	case int64:
		return l.Int(x)
	case int32:
		return l.Int(int64(x))
	case uint32:
		return l.Int(int64(x))
	case uint64:
		return l.Int(int64(x))
	case float64:
		return l.Num(x, 1)
	case time.Time:
		return l.DateTime(x)
	case time.Duration:
		return l.Duration(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Thousands and decimal separators: French groups with a narrow no-break space (U+202F, as
// CLDR and the Imprimerie nationale do) and uses a decimal comma.
func (l *Localizer) seps() (group, dec string) {
	if l.lang == French {
		return "\u202f", ","
	}
	return ",", "."
}

// Int formats an integer with grouped thousands: "12,345" / "12 345".
func (l *Localizer) Int(n int64) string {
	g, _ := l.seps()
	return groupDigits(n, g)
}

func groupDigits(n int64, sep string) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) > 3 {
		var b strings.Builder
		pre := len(s) % 3
		if pre > 0 {
			b.WriteString(s[:pre])
		}
		for i := pre; i < len(s); i += 3 {
			if b.Len() > 0 {
				b.WriteString(sep)
			}
			b.WriteString(s[i : i+3])
		}
		s = b.String()
	}
	if neg {
		return "−" + s
	}
	return s
}

// Num formats a float with the given decimals: "12,345.6" / "12 345,6".
func (l *Localizer) Num(f float64, decimals int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	g, d := l.seps()
	if math.Abs(f) >= 1e15 { // beyond int64 grouping: scientific notation
		return strings.Replace(strconv.FormatFloat(f, 'e', 3, 64), ".", d, 1)
	}
	s := strconv.FormatFloat(math.Abs(f), 'f', decimals, 64)
	ip, fp, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(ip, 10, 64)
	out := groupDigits(n, g)
	if fp != "" {
		out += d + fp
	}
	if f < 0 && strings.Trim(s, "0.") != "" {
		out = "−" + out
	}
	return out
}

// Percent formats a ratio (0.125 → "12.5%" / "12,5 %").
func (l *Localizer) Percent(ratio float64) string {
	return l.T("fmt.percent", l.Num(ratio*100, 1))
}

// Bytes formats a size in binary units: "1.5 MiB" / "1,5 Mio".
func (l *Localizer) Bytes(n int64) string {
	units := []string{"unit.b", "unit.kib", "unit.mib", "unit.gib", "unit.tib", "unit.pib"}
	if n < 1024 && n > -1024 {
		return l.T(units[0], l.Int(n))
	}
	f := float64(n)
	u := 0
	for math.Abs(f) >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	dec := 1
	if f == math.Trunc(f) || math.Abs(f) >= 100 {
		dec = 0
	}
	return l.T(units[u], l.Num(f, dec))
}

// Date formats a day: "24 November 2026" / "24 novembre 2026".
func (l *Localizer) Date(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	t = t.In(l.loc)
	return l.T("fmt.date", strconv.Itoa(t.Day()), l.msg("month."+strconv.Itoa(int(t.Month()))), strconv.Itoa(t.Year()))
}

// Clock formats a time of day with its zone: "21:32 UTC".
func (l *Localizer) Clock(t time.Time) string {
	t = t.In(l.loc)
	return t.Format("15:04") + " " + zoneName(t)
}

func zoneName(t time.Time) string {
	name, off := t.Zone()
	if name == "" || strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") {
		return "UTC" + time.Unix(0, 0).In(time.FixedZone("", off)).Format("-07:00")
	}
	return name
}

// DateTime formats a moment: "24 November 2026, 21:32 UTC" / "24 novembre 2026 à 21:32 UTC".
func (l *Localizer) DateTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return l.T("fmt.datetime", l.Date(t), l.Clock(t))
}

// Duration formats a span the way people say it: "3 d 4 h", "2 h 05 min", "2 h",
// "4 min 10 s", "30 min", "12 s".
func (l *Localizer) Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	days, hours, mins, secs := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case days > 0 && hours == 0:
		return l.T("fmt.dur.d", l.Int(days))
	case days > 0:
		return l.T("fmt.dur.dh", l.Int(days), strconv.FormatInt(hours, 10))
	case hours > 0 && mins == 0:
		return l.T("fmt.dur.h", strconv.FormatInt(hours, 10))
	case hours > 0:
		return l.T("fmt.dur.hm", strconv.FormatInt(hours, 10), fmt.Sprintf("%02d", mins))
	case mins > 0 && secs == 0:
		return l.T("fmt.dur.m", strconv.FormatInt(mins, 10))
	case mins > 0:
		return l.T("fmt.dur.ms", strconv.FormatInt(mins, 10), fmt.Sprintf("%02d", secs))
	}
	if d > 0 && d < time.Second {
		return l.T("fmt.dur.s", l.Num(d.Seconds(), 1))
	}
	return l.T("fmt.dur.s", strconv.FormatInt(secs, 10))
}
