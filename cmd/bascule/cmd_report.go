package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
	"github.com/bascule-migrate/bascule/reports"
)

func init() { registerCommand(newReportCommand) }

// ReportOptions are the flags of report.
type ReportOptions struct {
	Kind     string
	From     string
	Lang     string
	Format   string
	Dir      string
	CSVSep   string
	TimeZone string
}

func (o *ReportOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Kind, "kind", "run", "report to write: run (from the state file), audit, plan or verify (from --from)")
	f.StringVar(&o.From, "from", "", "input file: audit.json (bascule audit --output json), plan.yaml or plan.json, verify.json (bascule verify --output json), or a run.json written earlier; run reads --state when not given")
	f.StringVar(&o.Lang, "lang", "en", "language of the HTML and CSV: en or fr")
	f.StringVar(&o.Format, "format", "all", "html, csv, json, a comma-separated list of them, or all")
	f.StringVarP(&o.Dir, "dir", "d", "reports", "directory the report files are written to (created if missing)")
	f.StringVar(&o.CSVSep, "csv-sep", "", "CSV separator: ',' or ';' (default: ';' with --lang fr, as French Excel expects, ',' otherwise)")
	f.StringVar(&o.TimeZone, "tz", "UTC", "time zone of the dates in HTML and CSV (IANA name, e.g. Europe/Paris, or Local)")
}

func newReportCommand(g *GlobalOptions) *cobra.Command {
	o := &ReportOptions{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the audit, plan, run or verify report as a self-contained HTML page, CSV and JSON, in English or French",
		Long: `report writes one of Bascule's four reports for the people who decide:

  run     what the state file (--state) knows: runs, every mailbox's progress, failures
          with their reasons, throughput over time, size distribution
  audit   the inventory of the source tenant (from bascule audit --output json)
  plan    the waves and their schedule (from the plan file bascule plan wrote)
  verify  every difference between source and target (from bascule verify --output json)

Each report is one HTML file that needs no network (charts are inline SVG; it prints as it
shows), CSV files for spreadsheets (UTF-8 with BOM; --csv-sep ';' for French Excel) and a
JSON document whose schema docs/REPORTS.md describes. --lang fr writes them in French.

Exit codes: 0 written, 1 a bad flag or an unreadable input.`,
		Example: `  # The migration's progress, in French, for the DSI
  bascule report --kind run --state wave1.db --lang fr --dir rapports/

  # The audit as HTML only
  bascule audit --config bascule.yaml --output json > audit.json
  bascule report --kind audit --from audit.json --format html

  # The plan and the verification, CSV for Excel with ';'
  bascule report --kind plan --from plan.yaml --format csv --csv-sep ';'
  bascule verify --config bascule.yaml --output json > verify.json
  bascule report --kind verify --from verify.json --lang fr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func (o *ReportOptions) options() (reports.Options, error) {
	lang, err := reports.ParseLang(o.Lang)
	if err != nil {
		return reports.Options{}, err
	}
	formats, err := reports.ParseFormats(o.Format)
	if err != nil {
		return reports.Options{}, err
	}
	ro := reports.Options{Lang: lang, Formats: formats, Tool: "bascule " + version}
	switch o.CSVSep {
	case "":
	case ",", "comma":
		ro.CSVSeparator = ','
	case ";", "semicolon":
		ro.CSVSeparator = ';'
	default:
		return ro, fmt.Errorf("--csv-sep must be ',' or ';', not %q", o.CSVSep)
	}
	loc, err := time.LoadLocation(o.TimeZone)
	if err != nil {
		return ro, fmt.Errorf("--tz %q: %w (use an IANA name such as Europe/Paris)", o.TimeZone, err)
	}
	ro.Location = loc
	return ro, nil
}

func runReport(ctx context.Context, o *ReportOptions, g *GlobalOptions, cmd *cobra.Command) error {
	ro, err := o.options()
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	var res *reports.Result
	switch o.Kind {
	case "run":
		rep, err := loadRunReport(ctx, o, g)
		if err != nil {
			return &exitError{code: exitConfig, err: err}
		}
		res, err = reports.WriteRun(o.Dir, rep, ro)
		if err != nil {
			return err
		}
	default:
		w, ok := reportWriters[o.Kind]
		if !ok {
			return &exitError{code: exitConfig, err: fmt.Errorf("--kind must be run, audit, plan or verify, not %q", o.Kind)}
		}
		if o.From == "" {
			return &exitError{code: exitConfig, err: fmt.Errorf("--kind %s needs --from FILE (%s)", o.Kind, w.hint)}
		}
		res, err = w.write(o.From, o.Dir, ro)
		if err != nil {
			return &exitError{code: exitConfig, err: err}
		}
	}
	out := cmd.OutOrStdout()
	if g.Output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"kind": o.Kind, "files": res.Files})
	}
	for _, f := range res.Files {
		fmt.Fprintln(out, f)
	}
	return nil
}

func loadRunReport(ctx context.Context, o *ReportOptions, g *GlobalOptions) (*reports.RunReport, error) {
	if o.From != "" {
		var rep reports.RunReport
		if err := readJSONFile(o.From, &rep, reports.RunSchema, "throughput"); err != nil {
			return nil, err
		}
		return &rep, nil
	}
	if _, err := os.Stat(g.StatePath); err != nil && !strings.Contains(g.StatePath, "://") {
		return nil, fmt.Errorf("no state file at %s (give --state, or --from run.json)", g.StatePath)
	}
	store, err := openStore(ctx, g)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return reports.BuildRun(ctx, store, time.Time{})
}

// readJSONFile decodes a report's JSON file after checking its schema field (schema is the
// value the kind's reports carry: "bascule.verify/1", 1 …) and that it has the top-level
// field key, which tells kinds with the same schema number apart.
func readJSONFile(path string, v any, schema any, key string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var head map[string]json.RawMessage
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%s is not JSON: %w", path, err)
	}
	var got any
	json.Unmarshal(head["schema"], &got) //nolint:errcheck // absent: nil, reported below
	if fmt.Sprint(got) != fmt.Sprint(schema) {
		return fmt.Errorf("%s has schema %v, not %v: is it the right --kind?", path, got, schema)
	}
	if _, ok := head[key]; !ok {
		return fmt.Errorf("%s has no %q field: is it the right --kind?", path, key)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// reportWriters are the reports read from a file (--from).
var reportWriters = map[string]struct {
	hint  string
	write func(from, dir string, o reports.Options) (*reports.Result, error)
}{
	"audit": {"the audit: bascule audit --output json > audit.json", func(from, dir string, o reports.Options) (*reports.Result, error) {
		var rep audit.Report
		if err := readJSONFile(from, &rep, audit.SchemaVersion, "estimate"); err != nil {
			return nil, err
		}
		return reports.WriteAudit(dir, &rep, o)
	}},
	"plan": {"the plan file bascule plan wrote: plan.yaml, or plan.json from bascule plan --output json", func(from, dir string, o reports.Options) (*reports.Result, error) {
		var p *waves.Plan
		if strings.EqualFold(filepath.Ext(from), ".json") {
			p = &waves.Plan{}
			if err := readJSONFile(from, p, waves.SchemaVersion, "waves"); err != nil {
				return nil, err
			}
		} else {
			f, err := os.Open(from)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if p, err = waves.ReadYAML(f); err != nil {
				return nil, fmt.Errorf("%s: %w", from, err)
			}
		}
		return reports.WritePlan(dir, p, o)
	}},
	"verify": {"the verification: bascule verify --output json > verify.json", func(from, dir string, o reports.Options) (*reports.Result, error) {
		var rep verify.Report
		if err := readJSONFile(from, &rep, verify.SchemaVersion, "differences"); err != nil {
			return nil, err
		}
		return reports.WriteVerify(dir, &rep, o)
	}},
}
