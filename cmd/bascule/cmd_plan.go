package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract/exchangecsv"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/planner/waves"
	"github.com/bascule-migrate/bascule/reports"
)

func init() { registerCommand(newPlanCommand) }

// PlanOptions are the flags of plan.
type PlanOptions struct {
	Audit            string
	ExchangeCSV      string
	Mapping          string
	Out              string
	Window           time.Duration
	Every            time.Duration
	Start            string
	Workers          int
	MailboxParallel  int
	Waves            int
	MaxWaveMailboxes int
	List             bool
	Report           ReportDirOptions
}

func (o *PlanOptions) AddFlags(cmd *cobra.Command) {
	o.Report.AddFlags(cmd, "plan")
	f := cmd.Flags()
	f.StringVar(&o.Audit, "audit", "", "audit report (bascule audit --output json > audit.json): mailbox sizes, estimates and delegations")
	f.StringVar(&o.ExchangeCSV, "exchange-csv-dir", "", "directory holding the Exchange permission exports (mailboxes.csv, mailbox-permissions.csv, recipient-permissions.csv, folder-permissions.csv): delegations, with or instead of --audit")
	f.StringVar(&o.Mapping, "mapping", "", "CSV mapping source mailboxes to target logins: Source Email,Destination Email[,Wave][,Flags] (docs/PLANNING.md)")
	f.StringVar(&o.Out, "out", "plan.yaml", "plan file to write (- for standard output)")
	f.DurationVar(&o.Window, "window", 48*time.Hour, "cutover window every wave must fit in (0 = no bound)")
	f.DurationVar(&o.Every, "every", 0, "time between the starts of two waves, e.g. 168h for one wave a week (0 = each wave when the one before ends)")
	f.StringVar(&o.Start, "start", "", "when wave 1 starts, RFC 3339 or \"2006-01-02 15:04\" in local time (default: the next full hour)")
	f.IntVar(&o.Workers, "workers", 1, "bascule processes sharing a wave (bascule worker on a shared state store)")
	f.IntVar(&o.MailboxParallel, "mailbox-parallel", 4, "mailboxes each process migrates at once (migrate's --mailbox-parallel)")
	f.IntVar(&o.Waves, "waves", 0, "spread the mailboxes over at least this many waves (0 = as few as the window allows)")
	f.IntVar(&o.MaxWaveMailboxes, "max-wave-mailboxes", 0, "at most this many mailboxes per wave (0 = no cap)")
	f.BoolVar(&o.List, "list", false, "print every wave's mailboxes, source → target")
}

func newPlanCommand(g *GlobalOptions) *cobra.Command {
	o := &PlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Split the mapped mailboxes into waves that keep delegation groups together and fit the cutover window",
		Long: `plan reads the mapping of source mailboxes to target logins (the CSV the commercial
migrators use: Source Email,Destination Email[,Wave][,Flags]), checks it line by line, and
splits the mailboxes into waves: mailboxes linked by a delegation or a shared-mailbox access
stay in the same wave (a delegation group is never split), waves are balanced by estimated
migration time and each fits the cutover window with the given workers. A Wave column pins
mailboxes (and their whole group) to a wave. Sizes and estimates come from the audit
(--audit); delegations from the audit and/or Exchange's permission exports
(--exchange-csv-dir). Without an audit, waves are balanced by mailbox count.

It writes the plan (plan.yaml, format in docs/PLANNING.md) and prints the schedule; run each
wave with: bascule migrate --plan plan.yaml --wave N …

Exit codes: 0 plan written (findings, if any, printed), 1 a bad mapping line, conflicting
pins, or an unreadable input.`,
		Example: `  # Waves of at most a weekend each, from the audit, two workers
  bascule audit --config bascule.yaml --output json > audit.json
  bascule plan --audit audit.json --mapping users.csv --window 48h --workers 2 \
      --start 2026-12-04T20:00:00+01:00 --every 168h

  # Without an audit: delegations from Exchange's exports, 200 mailboxes per wave,
  # and the plan report (timeline, delegation groups) in French
  bascule plan --exchange-csv-dir exports/ --mapping users.csv --max-wave-mailboxes 200 \
      --report-dir rapport/ --lang fr

  # The schedule as JSON (the plan itself), nothing written
  bascule plan --audit audit.json --mapping users.csv --out - --output json

  # Then, one wave at a time
  bascule migrate --config bascule.yaml --plan plan.yaml --wave 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func runPlan(_ context.Context, o *PlanOptions, g *GlobalOptions, cmd *cobra.Command) error {
	usage := func(err error) error { return &exitError{code: exitConfig, err: err} }
	if o.Mapping == "" {
		return usage(errors.New("--mapping FILE is required (Source Email,Destination Email[,Wave][,Flags]; see bascule plan --help)"))
	}
	if o.Audit == "" && o.ExchangeCSV == "" {
		return usage(errors.New("give --audit audit.json (sizes and delegations) and/or --exchange-csv-dir DIR (delegations): without either, no delegation group could be kept together"))
	}
	if err := o.Report.check(); err != nil {
		return usage(err)
	}
	if o.Workers < 1 || o.MailboxParallel < 1 || o.Waves < 0 || o.MaxWaveMailboxes < 0 || o.Window < 0 || o.Every < 0 {
		return usage(errors.New("--workers and --mailbox-parallel must be at least 1; --waves, --max-wave-mailboxes, --window and --every not negative"))
	}
	start, err := parseStart(o.Start, time.Now())
	if err != nil {
		return usage(err)
	}
	inv := &waves.Inventory{}
	var tp waves.Throughput
	if o.Audit != "" {
		f, err := os.Open(o.Audit)
		if err != nil {
			return usage(fmt.Errorf("--audit: %w", err))
		}
		inv, tp, err = waves.ReadAudit(f)
		f.Close()
		if err != nil {
			return usage(fmt.Errorf("--audit %s: %w", o.Audit, err))
		}
	}
	var exportProblems []string
	if o.ExchangeCSV != "" {
		exp, err := exchangecsv.Load(o.ExchangeCSV)
		if err != nil {
			return usage(fmt.Errorf("--exchange-csv-dir: %w", err))
		}
		inv.AddGrants(exp.AllGrants())
		exportProblems = exp.Problems()
		if o.Audit == "" {
			// mailboxes.csv is the directory the mapping is checked against.
			for _, m := range exp.Mailboxes() {
				inv.AddMailbox(waves.Mailbox{Source: m.Address, Type: mailboxType(m.RecipientTypeDetails)})
			}
		}
	}
	f, err := os.Open(o.Mapping)
	if err != nil {
		return usage(fmt.Errorf("--mapping: %w", err))
	}
	mbs, err := waves.ReadMapping(f, inv)
	f.Close()
	if err != nil {
		return usage(fmt.Errorf("--mapping %s:\n%w", o.Mapping, err))
	}
	cfg := waves.Config{Start: start, Window: o.Window, Every: o.Every, Workers: o.Workers, MailboxParallel: o.MailboxParallel,
		MinWaves: o.Waves, MaxWaveMailboxes: o.MaxWaveMailboxes, BytesPerSecond: tp.BytesPerSecond, ItemsPerSecond: tp.ItemsPerSecond}
	plan, err := waves.Build(mbs, inv.Links(), inv.Sized, cfg)
	if err != nil {
		return usage(fmt.Errorf("--mapping %s:\n%w", o.Mapping, err))
	}
	plan.Tool = "bascule " + version
	plan.Generated = time.Now().UTC().Truncate(time.Second)
	plan.Inputs = waves.Inputs{Audit: o.Audit, Mapping: o.Mapping, ExchangeCSVDir: o.ExchangeCSV}
	if n := len(exportProblems); n > 0 {
		// One finding for them all: the audit and migrate list them one by one.
		shown := exportProblems[:min(n, 5)]
		more := ""
		if n > len(shown) {
			more = fmt.Sprintf(" (and %d more)", n-len(shown))
		}
		plan.Findings = append(plan.Findings, waves.Finding{Code: waves.FindingExportProblem, Severity: waves.Warning,
			Message: fmt.Sprintf("%d line(s) of Exchange's exports name no mailbox or could not be read, so they link nothing the plan can keep together: %s%s",
				n, strings.Join(shown, "; "), more),
			Action: "a group named there (FullAccess to a shared mailbox, say) links its members: pin them to the same wave with the Wave column; an orphaned SID or an outside user needs nothing; a line that does not parse: correct the export and plan again"})
	}

	w := cmd.OutOrStdout()
	if o.Out != "" {
		var buf bytes.Buffer
		if err := waves.WriteYAML(&buf, plan); err != nil {
			return err
		}
		if o.Out == "-" {
			if g.Output != "json" {
				_, err := w.Write(buf.Bytes())
				return err
			}
		} else if err := os.WriteFile(o.Out, buf.Bytes(), 0o644); err != nil {
			return usage(fmt.Errorf("--out: %w", err))
		}
	}
	if o.Report.Dir != "" {
		files, err := o.Report.write(func(dir string, opts reports.Options) (*reports.Result, error) {
			return reports.WritePlan(dir, plan, opts)
		})
		if err != nil {
			return usage(err)
		}
		if g.Output != "json" {
			fmt.Fprintf(cmd.ErrOrStderr(), "Report written: %s\n", strings.Join(files, ", "))
		}
	}
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	printSchedule(w, plan, o)
	return nil
}

// mailboxType maps Exchange's RecipientTypeDetails to the audit's types.
func mailboxType(rtd string) string {
	switch strings.ToLower(rtd) {
	case "usermailbox", "linkedmailbox", "remoteusermailbox":
		return "user"
	case "sharedmailbox", "remotesharedmailbox":
		return "shared"
	case "roommailbox", "remoteroommailbox":
		return "room"
	case "equipmentmailbox", "remoteequipmentmailbox":
		return "equipment"
	}
	return ""
}

// parseStart reads --start: RFC 3339, or a local "2006-01-02 15:04" / "2006-01-02T15:04";
// empty is the next full hour.
func parseStart(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.Truncate(time.Hour).Add(time.Hour), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--start %q: want RFC 3339 (2026-12-04T20:00:00+01:00) or local \"2026-12-04 20:00\"", s)
}

func printSchedule(w io.Writer, p *waves.Plan, o *PlanOptions) {
	fmt.Fprintf(w, "Plan: %d wave(s), %d mailbox(es), %d delegation group(s)", len(p.Waves), p.Totals.Mailboxes, len(p.Groups))
	if p.Options.WindowSeconds > 0 {
		fmt.Fprintf(w, "; window %s", shortDuration(p.Options.WindowSeconds))
	}
	fmt.Fprintf(w, "; %d worker(s) × %d mailboxes at once\n", p.Options.Workers, p.Options.MailboxParallel)
	if o.Out != "" && o.Out != "-" {
		fmt.Fprintf(w, "Written to %s\n", o.Out)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tSTART\tEND\tDURATION\tMAILBOXES\tGROUPS\tITEMS\tSIZE\t")
	const layout = "Mon 2006-01-02 15:04"
	for _, wv := range p.Waves {
		groups := 0
		for _, gr := range p.Groups {
			if gr.Wave == wv.Number {
				groups++
			}
		}
		note := ""
		switch {
		case wv.OverWindow:
			note = "over the window"
		case wv.Pinned:
			note = "pinned"
		}
		dur := shortDuration(wv.DurationSeconds)
		if !p.Options.Sized {
			dur = "?"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", wv.Number, wv.Start.Format(layout), wv.End.Format(layout), dur,
			len(wv.Mailboxes), groups, wv.Items, humanBytes(wv.Bytes), note)
	}
	tw.Flush()
	if o.List {
		for _, wv := range p.Waves {
			fmt.Fprintf(w, "\nWave %d:\n", wv.Number)
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			for _, m := range wv.Mailboxes {
				grp := ""
				if m.Group >= 0 {
					grp = fmt.Sprintf("group %d", m.Group)
				}
				fmt.Fprintf(tw, "  %s\t→ %s\t%s\t%s\t%s\n", m.Source, m.Target, shortDuration(m.EstimateSeconds), humanBytes(m.Bytes), grp)
			}
			tw.Flush()
		}
	}
	if len(p.Findings) > 0 {
		fmt.Fprintf(w, "\nFindings (%d):\n", len(p.Findings))
		for _, f := range p.Findings {
			fmt.Fprintf(w, "  [%s] %s\n", f.Severity, f.Message)
			if f.Action != "" {
				fmt.Fprintf(w, "      do: %s\n", f.Action)
			}
		}
	}
	if len(p.Waves) > 0 {
		out := o.Out
		if out == "" || out == "-" {
			out = "plan.yaml"
		}
		fmt.Fprintf(w, "\nNext: bascule migrate --plan %s --wave 1 …\n", out)
	}
}

// shortDuration writes seconds as "36h30m", "45m", "20s".
func shortDuration(s float64) string { return waves.FormatSeconds(s) }

// planMapping returns wave --wave of --plan as a mapping (migrate --plan plan.yaml --wave
// N). With --mapping too, the passwords of the wave's mailboxes come from the mapping file
// (plans never hold passwords), whose targets must agree with the plan's.
func (o *MigrateOptions) planMapping() ([]planner.MappingEntry, error) {
	if o.Plan == "" || o.Wave < 1 {
		return nil, errors.New("--plan plan.yaml and --wave N (1, 2, …) go together")
	}
	f, err := os.Open(o.Plan)
	if err != nil {
		return nil, fmt.Errorf("--plan: %w", err)
	}
	defer f.Close()
	p, err := waves.ReadYAML(f)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: %w", o.Plan, err)
	}
	mapping, err := p.Mapping(o.Wave)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: %w", o.Plan, err)
	}
	if o.Mapping == "" {
		return mapping, nil
	}
	mf, err := os.Open(o.Mapping)
	if err != nil {
		return nil, fmt.Errorf("--mapping: %w", err)
	}
	defer mf.Close()
	entries, err := planner.ParseMapping(mf)
	if err != nil {
		return nil, fmt.Errorf("--mapping %s:\n%w", o.Mapping, err)
	}
	bySource := map[string]planner.MappingEntry{}
	for _, e := range entries {
		bySource[strings.ToLower(e.Source)] = e
	}
	for i, m := range mapping {
		e, ok := bySource[strings.ToLower(m.Source)]
		if !ok {
			continue
		}
		if e.Target != "" && !strings.EqualFold(e.Target, m.Target) {
			return nil, fmt.Errorf("%s: the plan maps it to %s, --mapping %s line %d to %s: make the plan again from this mapping", m.Source, m.Target, o.Mapping, e.Line, e.Target)
		}
		mapping[i].Password = e.Password
	}
	return mapping, nil
}
