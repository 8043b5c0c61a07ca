package planner

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
)

// MappingEntry maps one source mailbox to its target login.
type MappingEntry struct {
	Source   string // source address (UPN or primary SMTP)
	Target   string // target login ("" = same as Source)
	Password string // target password, for targets without an admin login ("" otherwise)
}

// ParseMapping reads the CSV that maps source mailboxes to target logins:
//
//	source,target[,password]
//
// A header line naming the columns is optional; ',' or ';' separates fields (French Excel
// writes ';'); blank lines and lines starting with '#' are ignored. Every bad line is
// reported with its number; nothing is returned unless the whole file is valid.
func ParseMapping(r io.Reader) ([]MappingEntry, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
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
		if len(out) == 0 && len(errs) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "source") {
			continue // header
		}
		if len(rec) < 1 || len(rec) > 3 {
			errs = append(errs, fmt.Errorf("line %d: want source,target[,password], got %d fields", line, len(rec)))
			continue
		}
		e := MappingEntry{Source: strings.TrimSpace(rec[0])}
		if len(rec) > 1 {
			e.Target = strings.TrimSpace(rec[1])
		}
		if len(rec) > 2 {
			e.Password = rec[2]
		}
		if _, err := mail.ParseAddress(e.Source); err != nil || !strings.Contains(e.Source, "@") {
			errs = append(errs, fmt.Errorf("line %d: %q is not a mailbox address", line, e.Source))
			continue
		}
		key := strings.ToLower(e.Source)
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("line %d: %s is already mapped on line %d", line, e.Source, prev))
			continue
		}
		seen[key] = line
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("the mapping file lists no mailbox")
	}
	return out, nil
}
