package reports

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Format is an output format.
type Format string

// The formats.
const (
	HTML Format = "html"
	CSV  Format = "csv"
	JSON Format = "json"
)

// ParseFormats reads "html", "csv", "json", a comma-separated list of them, or "all".
func ParseFormats(s string) ([]Format, error) {
	if s == "" || s == "all" {
		return []Format{HTML, CSV, JSON}, nil
	}
	var out []Format
	for _, p := range strings.Split(s, ",") {
		switch f := Format(strings.TrimSpace(strings.ToLower(p))); f {
		case HTML, CSV, JSON:
			out = append(out, f)
		case "all":
			return []Format{HTML, CSV, JSON}, nil
		default:
			return nil, fmt.Errorf("unknown report format %q (use html, csv, json or all)", p)
		}
	}
	return out, nil
}

// Options shape how a report is written. The zero value writes every format in English.
type Options struct {
	// Lang is the language of the HTML and CSV (JSON is language-neutral). "" = English.
	Lang Lang
	// Formats to write; nil = all three.
	Formats []Format
	// CSVSeparator is ',' or ';' (what French Excel expects). 0 = ';' for French, ',' for
	// English. With ';' decimals are written with a comma.
	CSVSeparator rune
	// Location is the time zone of the dates shown in HTML and CSV (nil = UTC). JSON is UTC.
	Location *time.Location
	// Tool names the program in the report ("bascule dev" when empty).
	Tool string
	// Generated is the time written in the report as its generation time (zero = now).
	Generated time.Time
}

// Result lists what a Write function wrote.
type Result struct {
	// Files are the paths written, HTML first.
	Files []string
	// MissingKeys lists message keys the catalogue lacked (rendered as ⟦key⟧); empty unless
	// the catalogue is incomplete.
	MissingKeys []string
}

func (o Options) normalize() (Options, error) {
	if o.Lang == "" {
		o.Lang = English
	}
	if _, err := ParseLang(string(o.Lang)); err != nil {
		return o, err
	}
	if o.Formats == nil {
		o.Formats = []Format{HTML, CSV, JSON}
	}
	if o.CSVSeparator == 0 {
		o.CSVSeparator = ','
		if o.Lang == French {
			o.CSVSeparator = ';'
		}
	}
	if o.CSVSeparator != ',' && o.CSVSeparator != ';' && o.CSVSeparator != '\t' {
		return o, fmt.Errorf("CSV separator %q: use ',' or ';'", o.CSVSeparator)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Tool == "" {
		o.Tool = "bascule dev"
	}
	if o.Generated.IsZero() {
		o.Generated = time.Now()
	}
	return o, nil
}

func (o Options) has(f Format) bool {
	for _, x := range o.Formats {
		if x == f {
			return true
		}
	}
	return false
}

// document is what every report builds: one HTML page, CSV tables, one JSON value.
type document struct {
	Name string // file base name: "run", "audit", "plan", "verify"

	Lang      Lang
	Title     string
	Subtitle  string
	Generated string
	Tool      string
	Verdict   *verdict
	Cards     []card
	Sections  []section

	CSV  []csvTable
	JSON any
}

type verdict struct{ Text, Tone string }

type card struct {
	Label, Value string
	Tone         string // "", "ok", "warn", "bad"
}

type section struct {
	ID, Title, Intro string
	Charts           []template.HTML
	Notes            []string
	Tables           []table
}

type table struct {
	Caption string
	Head    []column
	Rows    [][]cell
	More    string // note under a truncated table
	Empty   string // shown instead of an empty table
}

type column struct {
	Text string
	Num  bool
}

type cell struct {
	Text  string
	Class string // "num", "mono", "ok", "warn", "bad" (space-separated)
}

// csvTable is one CSV file: DIR/<report>-<Name>.csv.
type csvTable struct {
	Name string
	Head []string
	Rows [][]string
}

//go:embed templates/*.tmpl
var templateFS embed.FS

func (l *Localizer) funcs() template.FuncMap {
	return template.FuncMap{
		"t":  l.T,
		"tn": l.Tn,
	}
}

func renderHTML(l *Localizer, d *document) ([]byte, error) {
	tpl, err := template.New("layout.html.tmpl").Funcs(l.funcs()).ParseFS(templateFS, "templates/layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeCSV writes t as RFC 4180 CSV (CRLF line ends, fields quoted when needed) in UTF-8
// with a byte-order mark, so Excel opens it as UTF-8.
func writeCSV(path string, t csvTable, sep rune) error {
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	w.Comma = sep
	w.UseCRLF = true
	if err := w.Write(t.Head); err != nil {
		return err
	}
	if err := w.WriteAll(t.Rows); err != nil {
		return err
	}
	return writeFile(path, b.Bytes())
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes atomically: a reader never sees half a report.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// write renders d in every format of o into dir.
func write(dir string, l *Localizer, d *document, o Options) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{}
	if o.has(HTML) {
		b, err := renderHTML(l, d)
		if err != nil {
			return nil, fmt.Errorf("rendering %s.html: %w", d.Name, err)
		}
		p := filepath.Join(dir, d.Name+".html")
		if err := writeFile(p, b); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, p)
	}
	if o.has(CSV) {
		for _, t := range d.CSV {
			p := filepath.Join(dir, d.Name+"-"+t.Name+".csv")
			if err := writeCSV(p, t, o.CSVSeparator); err != nil {
				return nil, err
			}
			res.Files = append(res.Files, p)
		}
	}
	if o.has(JSON) {
		p := filepath.Join(dir, d.Name+".json")
		if err := writeJSON(p, d.JSON); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, p)
	}
	res.MissingKeys = l.Missing()
	return res, nil
}

// csvFmt formats CSV values: plain numbers (no grouping, so spreadsheets read them as
// numbers), a decimal comma when the separator is ';', ISO dates, and text guarded against
// formula injection.
type csvFmt struct {
	sep rune
	loc *time.Location
}

func (c csvFmt) int(n int64) string { return strconv.FormatInt(n, 10) }

func (c csvFmt) num(f float64, decimals int) string {
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if c.sep == ';' {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (c csvFmt) time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(c.loc).Format("2006-01-02 15:04:05")
}

// text neutralises a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR at its
// start: OWASP's CSV injection advice) by prefixing a single quote. Names of folders and
// people are outside input.
func (c csvFmt) text(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
