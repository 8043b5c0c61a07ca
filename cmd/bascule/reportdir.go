package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/reports"
)

// ReportDirOptions make a command write its report (HTML, CSV, JSON: package reports) into a
// directory when it ends, as `bascule report` would from its output.
type ReportDirOptions struct {
	Dir  string
	Lang string
}

func (o *ReportDirOptions) AddFlags(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&o.Dir, "report-dir", "", "directory to write the "+what+" report into when the command ends: HTML (self-contained), CSV and JSON")
	f.StringVar(&o.Lang, "lang", "en", "language of the HTML and CSV of --report-dir: en or fr")
}

// check validates the flags before any work is done.
func (o *ReportDirOptions) check() error {
	if o.Dir == "" {
		return nil
	}
	if _, err := reports.ParseLang(o.Lang); err != nil {
		return fmt.Errorf("--lang: %w", err)
	}
	return nil
}

// write runs one of the reports.Write* functions into o.Dir and returns the files written.
func (o *ReportDirOptions) write(fn func(dir string, opts reports.Options) (*reports.Result, error)) ([]string, error) {
	l, err := reports.ParseLang(o.Lang)
	if err != nil {
		return nil, fmt.Errorf("--lang: %w", err)
	}
	res, err := fn(o.Dir, reports.Options{Lang: l, Tool: "bascule " + version})
	if err != nil {
		return nil, fmt.Errorf("--report-dir %s: %w", o.Dir, err)
	}
	if len(res.MissingKeys) > 0 {
		return res.Files, fmt.Errorf("--report-dir: the %s catalogue lacks %s (a bug: please report it)", o.Lang, strings.Join(res.MissingKeys, ", "))
	}
	return res.Files, nil
}
