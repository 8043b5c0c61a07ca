package exchangecsv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// decode turns a file's bytes into text, whatever encoding PowerShell wrote it in:
//   - a UTF-8 BOM (Windows PowerShell 5.1 -Encoding UTF8) or none (PowerShell 7, whose
//     default is UTF-8 without BOM; 5.1's default, ASCII, is a subset);
//   - UTF-16 with its BOM (5.1 -Encoding Unicode / BigEndianUnicode, or a file that went
//     through Out-File or ">"), little or big endian; UTF-16 LE without BOM is recognised
//     by its zero high bytes;
//   - anything else that is not valid UTF-8 is read as Windows-1252 (5.1 -Encoding
//     Default on a western machine).
//
// It returns the text and the name of the encoding, for messages.
func decode(b []byte) (string, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:]), "UTF-8"
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return decodeUTF16(b, unicode.LittleEndian), "UTF-16LE"
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b, unicode.BigEndian), "UTF-16BE"
	}
	if utf8.Valid(b) {
		if looksUTF16LE(b) {
			return decodeUTF16(b, unicode.LittleEndian), "UTF-16LE"
		}
		return string(b), "UTF-8"
	}
	if looksUTF16LE(b) {
		return decodeUTF16(b, unicode.LittleEndian), "UTF-16LE"
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), "unknown"
	}
	return string(s), "Windows-1252"
}

// looksUTF16LE: ASCII text in UTF-16 LE has a zero byte after each character.
func looksUTF16LE(b []byte) bool {
	n := min(len(b), 512) &^ 1
	if n < 4 {
		return false
	}
	zeros := 0
	for i := 1; i < n; i += 2 {
		if b[i] == 0 && b[i-1] != 0 {
			zeros++
		}
	}
	return zeros*10 >= (n/2)*9
}

func decodeUTF16(b []byte, e unicode.Endianness) string {
	// ExpectBOM strips the BOM; an odd trailing byte becomes U+FFFD.
	s, err := unicode.UTF16(e, unicode.ExpectBOM).NewDecoder().Bytes(b)
	if err != nil {
		s, _ = unicode.UTF16(e, unicode.IgnoreBOM).NewDecoder().Bytes(b)
	}
	return strings.TrimPrefix(string(s), "\uFEFF")
}

// row is one data line of a CSV file, its fields by lower-case column name.
type row struct {
	line   int
	fields map[string]string
}

func (r row) get(col string) string { return strings.TrimSpace(r.fields[col]) }

// table is a parsed CSV file.
type table struct {
	name     string
	encoding string
	columns  map[string]bool
	rows     []row
	problems []problem
}

type problem struct {
	line int
	text string
}

// messages returns the problems in line order (the CSV layer finds some before the
// readers find theirs).
func (t *table) messages() []string {
	slices.SortStableFunc(t.problems, func(a, b problem) int { return a.line - b.line })
	out := make([]string, len(t.problems))
	for i, p := range t.problems {
		out[i] = p.text
	}
	return out
}

func (t *table) has(col string) bool { return t.columns[col] }

func (t *table) problem(line int, format string, args ...any) {
	if line > 0 {
		t.problems = append(t.problems, problem{line, fmt.Sprintf("%s line %d: %s", t.name, line, fmt.Sprintf(format, args...))})
	} else {
		t.problems = append(t.problems, problem{line, fmt.Sprintf("%s: %s", t.name, fmt.Sprintf(format, args...))})
	}
}

// parseCSV reads what Export-Csv writes: an optional "#TYPE …" line (Windows PowerShell
// without -NoTypeInformation), a header, then one record per object, every field quoted,
// quotes doubled, CRLF line ends, and fields that may span lines. Columns are found by
// name (case-insensitive, any order; extra columns are ignored). A record whose field
// count differs from the header's is reported and skipped, never half read.
func parseCSV(name string, data []byte) *table {
	text, enc := decode(data)
	t := &table{name: name, encoding: enc, columns: map[string]bool{}}
	offset := 0
	// Skip the #TYPE line (and any blank lines before the header).
	for {
		trimmed := strings.TrimLeft(text, " \t")
		if strings.HasPrefix(trimmed, "\r\n") || strings.HasPrefix(trimmed, "\n") {
			text = trimmed[strings.IndexByte(trimmed, '\n')+1:]
			offset++
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			i := strings.IndexByte(trimmed, '\n')
			if i < 0 {
				text = ""
			} else {
				text = trimmed[i+1:]
			}
			offset++
			continue
		}
		break
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			t.problem(0, "empty file")
		} else {
			t.problem(0, "no header line: %v", err)
		}
		return t
	}
	cols := make([]string, len(header))
	for i, h := range header {
		c := strings.ToLower(strings.Trim(strings.TrimSpace(h), "\uFEFF"))
		cols[i] = c
		if c != "" {
			t.columns[c] = true
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		line += offset
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				t.problem(pe.StartLine+offset, "does not parse as CSV: %v", pe.Err)
				continue
			}
			t.problem(line, "does not parse as CSV: %v", err)
			break
		}
		if len(rec) != len(cols) {
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue
			}
			t.problem(line, "%d fields where the header has %d (a value with an unquoted comma or line break?)", len(rec), len(cols))
			continue
		}
		f := make(map[string]string, len(cols))
		for i, c := range cols {
			if c != "" {
				f[c] = rec[i]
			}
		}
		t.rows = append(t.rows, row{line: line, fields: f})
	}
	return t
}
