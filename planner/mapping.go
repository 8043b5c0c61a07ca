package planner

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
)

// MappingEntry maps one source mailbox to its target login.
type MappingEntry struct {
	Source   string // source address (UPN or primary SMTP)
	Target   string // target login ("" = same as Source)
	Password string // target password, for targets without an admin login ("" otherwise)
	Wave     int    // wave the line pins the mailbox to (0 = none; Wave column)
	Flags    string // the Flags column as written (commercial migrators' per-line options)
	Line     int    // line in the file (1-based)
}

// mappingColumns are the header names ParseMapping knows, lower case without spaces,
// dashes or underscores: its own, and those of the commercial migrators' bulk-add files
// (BitTitan MigrationWiz "Source Email,Destination Email,Flags", Quest On Demand
// "Source,Target", "Source Login Name", "Destination Login Name", …).
var mappingColumns = map[string]string{
	"source": "source", "sourceemail": "source", "sourceaddress": "source", "sourcemailbox": "source",
	"sourceupn": "source", "sourceloginname": "source", "sourcelogin": "source", "sourcesmtp": "source",
	"sourceemailaddress": "source", "primarysmtpaddress": "source",
	"target": "target", "destination": "target", "destinationemail": "target", "destinationaddress": "target",
	"destinationloginname": "target", "destinationlogin": "target", "targetemail": "target",
	"targetlogin": "target", "targetaddress": "target", "targetmailbox": "target",
	"destinationemailaddress": "target", "targetemailaddress": "target",
	"password": "password", "targetpassword": "password", "destinationpassword": "password",
	"wave": "wave", "batch": "wave", "migrationwave": "wave", "wavenumber": "wave",
	"flags": "flags",
}

func columnKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	return strings.NewReplacer(" ", "", "-", "", "_", "", ".", "").Replace(h)
}

// ParseMapping reads the CSV that maps source mailboxes to target logins:
//
//	source,target[,password]
//
// or, with a header line naming them, the columns in any order, including those of the
// commercial migrators' bulk-add files:
//
//	Source Email,Destination Email,Wave,Flags
//
// (mappingColumns lists the names known; a header must name a source column; unknown
// columns are ignored). Without a header the columns are source,target[,password]. ',' or
// ';' separates fields (French Excel writes ';'); a UTF-8 BOM is skipped; blank lines and
// lines starting with '#' are ignored. Every bad line is reported with its number; nothing
// is returned unless the whole file is valid.
func ParseMapping(r io.Reader) ([]MappingEntry, error) {
	out, errs := ParseMappingLines(r)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("the mapping file lists no mailbox")
	}
	return out, nil
}

// LineError is what is wrong with one line of a mapping file.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func lineErr(line int, format string, args ...any) error {
	return &LineError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ParseMappingLines is ParseMapping that also returns the good lines of a file with bad
// ones, so that a caller can check them further and report every problem at once. Each
// error is a *LineError or a *csv.ParseError (after which nothing more is read), in line
// order.
func ParseMappingLines(r io.Reader) ([]MappingEntry, []error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, []error{err}
	}
	text := strings.TrimPrefix(string(b), "\ufeff") // Excel's UTF-8 BOM
	sep := ','
	if first, _, _ := strings.Cut(text, "\n"); strings.Count(first, ";") > strings.Count(first, ",") {
		sep = ';'
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = sep
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var out []MappingEntry
	var errs []error
	seen := map[string]int{}
	var header map[string]int // column → index, when the file has a header
	width, sawData := 0, false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// csv.ParseError names its line; a malformed record cannot be resynchronised.
			errs = append(errs, err)
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if !sawData && header == nil && isHeader(rec) {
			// The header: columns by name.
			header = map[string]int{}
			for i, h := range rec {
				if c := mappingColumns[columnKey(h)]; c != "" {
					if _, dup := header[c]; dup {
						errs = append(errs, lineErr(line, "two %s columns (%q)", c, h))
						continue
					}
					header[c] = i
				}
			}
			if _, ok := header["source"]; !ok {
				if len(header) == 0 {
					errs = append(errs, lineErr(line, "%q is neither a header (Source Email,Destination Email[,Wave][,Flags]) nor a line starting with a source address", strings.Join(rec, string(sep))))
					break
				}
				errs = append(errs, lineErr(line, "the header names no source column (want e.g. Source Email,Destination Email[,Wave][,Flags])"))
				break
			}
			width = len(rec)
			continue
		}
		sawData = true
		e := MappingEntry{Line: line}
		if header != nil {
			if len(rec) != width {
				errs = append(errs, lineErr(line, "%d fields where the header has %d", len(rec), width))
				continue
			}
			get := func(c string) string {
				if i, ok := header[c]; ok {
					return rec[i]
				}
				return ""
			}
			e.Source, e.Target, e.Password = strings.TrimSpace(get("source")), strings.TrimSpace(get("target")), get("password")
			e.Flags = strings.TrimSpace(get("flags"))
			if w := strings.TrimSpace(get("wave")); w != "" {
				n, err := strconv.Atoi(w)
				if err != nil || n < 1 || n > 10000 {
					errs = append(errs, lineErr(line, "wave %q is not a wave number (1, 2, 3…)", w))
					continue
				}
				e.Wave = n
			}
		} else {
			if len(rec) < 1 || len(rec) > 3 {
				errs = append(errs, lineErr(line, "want source,target[,password], got %d fields (or give a header line: Source Email,Destination Email,Wave,Flags)", len(rec)))
				continue
			}
			e.Source = strings.TrimSpace(rec[0])
			if len(rec) > 1 {
				e.Target = strings.TrimSpace(rec[1])
			}
			if len(rec) > 2 {
				e.Password = rec[2]
			}
		}
		if e.Source == "" {
			errs = append(errs, lineErr(line, "source address empty"))
			continue
		}
		if a, err := mail.ParseAddress(e.Source); err != nil || !strings.Contains(e.Source, "@") || a.Address != e.Source {
			errs = append(errs, lineErr(line, "%q is not a mailbox address", e.Source))
			continue
		}
		if strings.ContainsFunc(e.Target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			errs = append(errs, lineErr(line, "destination login %q contains a space or control character", e.Target))
			continue
		}
		key := strings.ToLower(e.Source)
		if prev, dup := seen[key]; dup {
			errs = append(errs, lineErr(line, "%s is already mapped on line %d", e.Source, prev))
			continue
		}
		seen[key] = line
		out = append(out, e)
	}
	return out, errs
}

// isHeader says whether the first record is a header: no field of it is an address.
func isHeader(rec []string) bool {
	for _, f := range rec {
		if strings.Contains(f, "@") {
			return false
		}
	}
	return true
}
