package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract"
	ewssrc "github.com/bascule-migrate/bascule/extract/ews"
	"github.com/bascule-migrate/bascule/extract/exchangecsv"
	graphsrc "github.com/bascule-migrate/bascule/extract/graph"
	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/reports"
)

func init() { registerCommand(newAuditCommand) }

// AuditOptions are the flags of audit.
type AuditOptions struct {
	Source SourceOptions
	EWS    EWSOptions

	ExchangeCSV     string
	Mailbox         []string
	All             bool
	Mapping         string
	MaxMessageSize  int64
	LargeThreshold  int64
	Largest         int
	Parallel        int
	MailboxParallel int
	ItemParallel    int
	ReportDir       string
	Lang            string
}

func (o *AuditOptions) AddFlags(cmd *cobra.Command) {
	o.Source.AddFlags(cmd)
	o.EWS.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.ExchangeCSV, "exchange-csv-dir", "", "directory holding the Exchange permission exports (mailbox-permissions.csv, recipient-permissions.csv, mailboxes.csv, folder-permissions.csv): delegations beyond what the source shows")
	f.StringSliceVar(&o.Mailbox, "mailbox", nil, "source mailbox address to audit (repeatable)")
	f.BoolVar(&o.All, "all", false, "audit every mailbox of the tenant (Graph; EWS needs --mailbox or --mapping)")
	f.StringVar(&o.Mapping, "mapping", "", "CSV file mapping source mailboxes to target logins: audit its source mailboxes")
	f.Int64Var(&o.MaxMessageSize, "target-max-message-size", 0, "largest message the target accepts, in bytes: larger items are blocking findings (0 = not checked)")
	f.Int64Var(&o.LargeThreshold, "large-item-size", audit.DefaultLargeThreshold, "items larger than this are listed as the mailbox's largest (bytes)")
	f.IntVar(&o.Largest, "largest-items", audit.DefaultLargestItems, "how many of the largest items to list per mailbox")
	f.IntVar(&o.Parallel, "parallel", audit.DefaultParallel, "mailboxes audited at once (each stays within Microsoft's per-mailbox limits)")
	f.IntVar(&o.MailboxParallel, "mailbox-parallel", 4, "the migration's --mailbox-parallel the estimate assumes")
	f.IntVar(&o.ItemParallel, "item-parallel", 4, "the migration's --item-parallel the estimate assumes")
	f.StringVar(&o.ReportDir, "report-dir", "", "directory to write the audit report into: audit.html (self-contained), audit-*.csv and audit.json")
	f.StringVar(&o.Lang, "lang", "en", "language of the HTML and CSV reports of --report-dir: en or fr")
}

func newAuditCommand(g *GlobalOptions) *cobra.Command {
	o := &AuditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inventory the source tenant read-only: sizes, risks and an estimate of the migration time",
		Long: `audit reads the source (Graph or EWS) without changing anything and tells, per mailbox:
its type, items and bytes per kind and per folder (from folder statistics: items are not
listed one by one, so a large tenant is audited in minutes within Microsoft's throttling),
its largest items and those over the target's size limit, folder names that need care,
recurring series and exceptions, contacts, tasks, inbox rules (which ones Sieve carries),
out-of-office, delegations given and received, and whether it has an archive; then tenant
totals, findings with their severity and the action each needs, and an estimate of the
migration time. docs/AUDIT.md says how each figure is measured and what each request costs.

Exit codes: 0 no blocking finding, 1 usage/configuration error, 2 some mailboxes could not be
audited, 3 blocking findings (e.g. items over --target-max-message-size).`,
		Example: `  # Every mailbox of the tenant, as text; credentials from the environment
  export BASCULE_CLIENT_SECRET=…
  bascule audit --tenant-id contoso.onmicrosoft.com --client-id 1b2c… --all \
      --target-max-message-size 52428800

  # JSON (the schema is audit.Report, docs/AUDIT.md), then the HTML and CSV in French
  bascule audit --config bascule.yaml --all --output json > audit.json
  bascule report --kind audit --from audit.json --lang fr

  # The HTML, CSV and JSON reports in French, delegations from Exchange's exports
  bascule audit --config bascule.yaml --all --exchange-csv-dir exports/ --report-dir audit/ --lang fr

  # Exchange 2016/2019 through EWS (EWS cannot list mailboxes: give them)
  bascule audit --source ews --ews-url https://mail.contoso.fr/EWS/Exchange.asmx \
      --ews-user 'CONTOSO\svc-bascule' --mapping wave1.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func (o *AuditOptions) selection() (extract.Selection, error) {
	sel, _, n, err := mailboxSelection(o.Mapping, o.Mailbox, o.All)
	if err == nil && n != 1 {
		err = errors.New("choose the mailboxes with exactly one of --all, --mapping FILE or --mailbox ADDRESS…")
	}
	return sel, err
}

func runAudit(ctx context.Context, o *AuditOptions, g *GlobalOptions, cmd *cobra.Command) error {
	if g.Output != "text" && g.Output != "json" {
		return &exitError{code: exitConfig, err: fmt.Errorf("--output must be text or json, not %q", g.Output)}
	}
	sel, err := o.selection()
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	if o.EWS.Kind == "ews" && len(sel.Addresses) == 0 {
		return &exitError{code: exitConfig, err: errors.New("--source ews cannot list the mailboxes of the organisation: give --mapping FILE or --mailbox ADDRESS…")}
	}
	src, err := openSource(ctx, g, &o.Source, &o.EWS, sel.Addresses)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	inv, ok := src.(extract.Inventory)
	if !ok {
		return &exitError{code: exitConfig, err: fmt.Errorf("the %s source cannot report folder statistics", sourceName(o))}
	}
	cfg := audit.Config{Source: src, Inventory: inv, Selection: sel, TargetMaxMessageSize: o.MaxMessageSize,
		LargeThreshold: o.LargeThreshold, LargestItems: o.Largest, Parallel: o.Parallel,
		MailboxParallel: o.MailboxParallel, ItemParallel: o.ItemParallel,
		Tool: "bascule " + version, SourceName: sourceName(o), Endpoint: endpointOf(o), Logger: g.logger}
	cfg.Requests = func() (map[string]int64, int64) {
		switch s := src.(type) {
		case *graphsrc.Source:
			return nil, s.Stats().Requests
		case *ewssrc.Source:
			return nil, s.Stats().Requests
		}
		return nil, 0
	}
	if s, ok := src.(extract.SettingsSource); ok {
		cfg.Settings = s
	}
	if o.ExchangeCSV != "" {
		e, err := exchangecsv.Load(o.ExchangeCSV)
		if err != nil {
			return &exitError{code: exitConfig, err: fmt.Errorf("--exchange-csv-dir: %w", err)}
		}
		cfg.Grants = e
		cfg.Types = map[string]string{}
		for _, m := range e.Mailboxes() {
			cfg.Types[strings.ToLower(m.Address)] = audit.TypeOf(m.RecipientTypeDetails)
		}
	}
	prog := newCountProgress(g, cmd.ErrOrStderr(), "mailboxes audited")
	cfg.Progress = prog.Done
	rep, err := audit.Run(ctx, cfg)
	prog.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, err: errors.New("interrupted; the audit writes nothing, run it again")}
		}
		return &exitError{code: exitConfig, err: err}
	}
	if o.ReportDir != "" {
		files, err := writeAuditDir(o.ReportDir, o.Lang, rep)
		if err != nil {
			return &exitError{code: exitConfig, err: err}
		}
		for _, f := range files {
			g.logger.Info("audit: wrote", "file", f)
		}
	}
	w := cmd.OutOrStdout()
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printAudit(w, rep)
	}
	failed := 0
	for _, m := range rep.Mailboxes {
		if m.Error != "" {
			failed++
		}
	}
	switch {
	case failed > 0:
		return &exitError{code: exitItemsFailed, err: fmt.Errorf("%d mailbox(es) could not be audited (see their findings)", failed)}
	case rep.Totals.Findings[audit.Blocking] > 0:
		return &exitError{code: exitDryRunBlock}
	}
	return nil
}

func sourceName(o *AuditOptions) string {
	if o.EWS.Kind != "" {
		return o.EWS.Kind
	}
	return "graph"
}

func endpointOf(o *AuditOptions) string {
	if o.EWS.Kind == "ews" {
		if o.EWS.URL != "" {
			return o.EWS.URL
		}
		return "autodiscover:" + o.EWS.Autodiscover
	}
	return o.Source.GraphEndpoint
}

// writeAuditDir writes audit.html, the audit-*.csv files and audit.json (package reports)
// into dir, in lang.
func writeAuditDir(dir, lang string, rep *audit.Report) ([]string, error) {
	l, err := reports.ParseLang(lang)
	if err != nil {
		return nil, fmt.Errorf("--lang: %w", err)
	}
	res, err := reports.WriteAudit(dir, rep, reports.Options{Lang: l, Tool: "bascule " + version})
	if err != nil {
		return nil, fmt.Errorf("--report-dir: %w", err)
	}
	if len(res.MissingKeys) > 0 {
		return res.Files, fmt.Errorf("--report-dir: the %s catalogue lacks %s (a bug: please report it)", lang, strings.Join(res.MissingKeys, ", "))
	}
	return res.Files, nil
}

func printAudit(w io.Writer, rep *audit.Report) {
	t := rep.Totals
	fmt.Fprintf(w, "Audit of %d mailbox(es) through %s, %s, %d requests\n\n", t.Mailboxes, rep.Source, rep.Finished.Sub(rep.Started).Round(10*time.Millisecond), rep.Requests)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tTYPE\tMAIL\tBYTES\tEVENTS\tCONTACTS\tTASKS\tFOLDERS\tDEPTH\tLARGEST\tOVER LIMIT\tRULES (SIEVE)\tOOF\tARCHIVE\tESTIMATE")
	for _, m := range rep.Mailboxes {
		if m.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\terror: %s\n", m.Address, m.Type, m.Error)
			continue
		}
		largest := "-"
		if len(m.Largest) > 0 {
			largest = humanBytes(m.Largest[0].Bytes)
		}
		sieveOK := 0
		for _, r := range m.Rules {
			if r.Sieve {
				sieveOK++
			}
		}
		oof := m.AutoReply
		if oof == "" {
			oof = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d (%d)\t%s\t%v\t%s\n", m.Address, m.Type,
			m.Kinds[audit.KindMail].Items, humanBytes(m.Bytes), m.Kinds[audit.KindCalendar].Items, m.Contacts, m.Tasks,
			m.Kinds[audit.KindMail].Folders, m.MaxDepth, largest, m.OverLimit, len(m.Rules), sieveOK, oof, m.Archive,
			(time.Duration(m.Estimate.Seconds) * time.Second).Round(time.Second))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTotal: %d items, %s; %d mail folders; %d series (%d exceptions); %d rules (%d to Sieve, %d manual); %d out-of-office on; %d delegations; %d archives\n",
		t.Items, humanBytes(t.Bytes), t.Folders, t.Series, t.Exceptions, t.Rules, t.RulesToSieve, t.RulesManual, t.AutoReplyOn, t.DelegationsOut, t.Archives)
	fmt.Fprintf(w, "Estimated migration time: %s (%s-bound; longest mailbox %s: %s)\n",
		(time.Duration(rep.Estimate.Seconds) * time.Second).Round(time.Second), rep.Estimate.Bound, rep.Estimate.LongestMailbox,
		(time.Duration(rep.Estimate.LongestSeconds) * time.Second).Round(time.Second))
	if len(rep.Findings) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFindings: %d blocking, %d warnings, %d info\n", t.Findings[audit.Blocking], t.Findings[audit.Warning], t.Findings[audit.Info])
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tMAILBOX\tCODE\tSUBJECT\tFINDING\tACTION")
	for _, f := range rep.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Mailbox, f.Code, f.Subject, f.Message, f.Action)
	}
	tw.Flush()
}
