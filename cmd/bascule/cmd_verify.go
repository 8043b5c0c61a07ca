package main

import (
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
	"github.com/spf13/pflag"

	"github.com/bascule-migrate/bascule/extract"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/transform"
)

func init() { registerCommand(newVerifyCommand) }

// VerifyOptions are the flags of verify.
type VerifyOptions struct {
	Source    SourceOptions
	EWS       EWSOptions
	Target    TargetOptions
	Groupware GroupwareOptions
	Settings  SettingsOptions
	Mapping   string
	Mailbox   []string

	All             bool
	Sample          int
	SamplePercent   float64
	Seed            uint64
	WindowStart     string
	WindowEnd       string
	WindowYears     int
	MailboxParallel int
	JSONFile        string
}

func (o *VerifyOptions) AddFlags(cmd *cobra.Command) {
	o.Source.AddFlags(cmd)
	o.EWS.AddFlags(cmd)
	o.Target.AddFlags(cmd)
	o.Groupware.AddFlags(cmd)
	o.Settings.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Mapping, "mapping", "", "CSV file mapping source mailboxes to target logins (as given to migrate); default: every mailbox of the state file")
	f.StringSliceVar(&o.Mailbox, "mailbox", nil, "source mailbox address to verify (repeatable); default: every mailbox of the state file")
	f.BoolVar(&o.All, "all", false, "compare the content of every item (default: a sample per folder)")
	f.IntVar(&o.Sample, "sample", 20, "items per folder whose content is compared (SHA-256 for mail, occurrences and fields for groupware)")
	f.Float64Var(&o.SamplePercent, "sample-percent", 0, "percentage of each folder's items whose content is compared (the larger of --sample and this)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed that chooses the sample: the same seed checks the same items again")
	f.StringVar(&o.WindowStart, "window-start", "", "first day of event occurrences compared, YYYY-MM-DD (default: --window-years before today)")
	f.StringVar(&o.WindowEnd, "window-end", "", "day after the last day of occurrences compared, YYYY-MM-DD (default: --window-years after today)")
	f.IntVar(&o.WindowYears, "window-years", 2, "recurring events are expanded this many years before and after today")
	f.IntVar(&o.MailboxParallel, "mailbox-parallel", 4, "mailboxes verified at once")
	f.StringVar(&o.JSONFile, "report-json", "", "also write the JSON report to this file (for bascule report / archiving)")
}

func newVerifyCommand(g *GlobalOptions) *cobra.Command {
	o := &VerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare the targets with the source and the state file, read-only, and list every difference",
		Long: `verify compares what migrate wrote with the source, per mailbox and folder: item counts
and bytes; for mail, every message's presence, size, flags and INTERNALDATE on the IMAP target
and, for a sample (or --all), the SHA-256 of its bytes against the state file's; for calendars,
every occurrence (recurrences expanded over a window) with its start, end, summary and
cancelled state; for contacts and tasks, every field; for permissions, every target folder's
IMAP ACL (GETACL) and every collection's sharing (DAV:acl) against what migrate writes from the
source's grants (and --exchange-csv-dir); for rules, the active Sieve script (GETSCRIPT) against
the one migrate installs (with --sieve keep, a user's own active script is a manual action,
not a difference). Nothing is written anywhere: the source is listed, the IMAP folders are
opened read-only (EXAMINE), the CalDAV/CardDAV server gets only OPTIONS, PROPFIND and GET,
ManageSieve only LISTSCRIPTS and GETSCRIPT, and the state file is only read.

Give it the same source, target, conversion and settings flags as migrate (--kinds,
--rewrite-domain, --vcard-version, --default-time-zone, --exchange-csv-dir, --sieve-addr,
--sieve), or every converted object, ACL or script differs.

Exit codes: 0 no difference, 1 usage/configuration error, 2 differences found (listed) or
something could not be verified, 4 interrupted.`,
		Example: `  # After the final delta: every message, event, contact and task compared
  bascule verify --config bascule.yaml --all

  # A quick check of 50 items per folder, as JSON for CI (exit 2 on differences)
  bascule verify --config bascule.yaml --sample 50 --output json | jq '.verdict, .totals.differences'

  # One mailbox, 10 % of each folder, another sample than last time
  bascule verify --config bascule.yaml --mailbox alice@contoso.fr --sample-percent 10 --seed 7

  # Only the permissions and the Sieve scripts, with Exchange's permission exports
  bascule verify --config bascule.yaml --kinds permissions,rules --exchange-csv-dir exports/ --sieve-addr imap.example.fr:4190

  # Occurrences from 2020 to 2030 compared, JSON report kept for bascule report
  bascule verify --config bascule.yaml --window-start 2020-01-01 --window-end 2030-01-01 --report-json verify.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	// migrate's other flags are accepted and ignored (hidden), so that one config file (and one
	// set of BASCULE_* variables) serves migrate and verify alike.
	mc := &cobra.Command{}
	(&MigrateOptions{}).AddFlags(mc)
	mc.Flags().VisitAll(func(f *pflag.Flag) {
		if cmd.Flags().Lookup(f.Name) == nil {
			f.Hidden = true
			f.Usage = "(migrate's; ignored by verify)"
			cmd.Flags().AddFlag(f)
		}
	})
	return cmd
}

func runVerify(ctx context.Context, o *VerifyOptions, g *GlobalOptions, cmd *cobra.Command) error {
	usage := func(err error) error { return &exitError{code: exitConfig, err: err} }
	if o.Sample < 0 || o.SamplePercent < 0 || o.SamplePercent > 100 {
		return usage(errors.New("--sample must be ≥ 0 and --sample-percent between 0 and 100"))
	}
	vo := verify.Options{All: o.All, Sample: o.Sample, SamplePercent: o.SamplePercent, Seed: o.Seed,
		MailboxParallel: o.MailboxParallel, Logger: g.logger, Targets: map[string]string{}}
	var err error
	if vo.WindowStart, vo.WindowEnd, err = o.window(time.Now()); err != nil {
		return usage(err)
	}
	w, err := o.Groupware.kinds(o.Settings.SieveAddr != "")
	if err != nil {
		return usage(err)
	}
	if !w.mail && len(w.kinds) == 0 && !w.permissions && !w.rules {
		return usage(errors.New("--kinds: nothing to verify (mail, calendar, contacts, tasks, permissions or rules)"))
	}
	if _, err := os.Stat(g.StatePath); err != nil {
		return usage(fmt.Errorf("no state file at %s: verify compares with what migrate recorded (give --state)", g.StatePath))
	}
	store, err := openStore(ctx, g)
	if err != nil {
		return usage(fmt.Errorf("opening the state file %s: %w", g.StatePath, err))
	}
	defer store.Close()

	var mapping []planner.MappingEntry
	if o.Mapping != "" {
		f, err := os.Open(o.Mapping)
		if err != nil {
			return usage(fmt.Errorf("--mapping: %w", err))
		}
		mapping, err = planner.ParseMapping(f)
		f.Close()
		if err != nil {
			return usage(fmt.Errorf("--mapping %s:\n%w", o.Mapping, err))
		}
		for _, e := range mapping {
			vo.Selection.Addresses = append(vo.Selection.Addresses, e.Source)
			if e.Target != "" {
				vo.Targets[strings.ToLower(e.Source)] = e.Target
			}
		}
	}
	vo.Selection.Addresses = append(vo.Selection.Addresses, o.Mailbox...)
	if len(vo.Selection.Addresses) == 0 {
		mbs, err := store.Mailboxes(ctx)
		if err != nil {
			return fmt.Errorf("reading the state file: %w", err)
		}
		for _, m := range mbs {
			vo.Selection.Addresses = append(vo.Selection.Addresses, m.Address)
		}
		if len(mbs) == 0 {
			return usage(fmt.Errorf("the state file %s knows no mailbox: run migrate first", g.StatePath))
		}
	}

	src, err := openSource(ctx, g, &o.Source, &o.EWS, vo.Selection.Addresses)
	if err != nil {
		return usage(err)
	}
	vo.Source, vo.Store = src, store
	if w.mail || w.permissions {
		// ACLs are read on the mail target, as migrate writes them there.
		if vo.IMAP, err = o.imapConfig(g, mapping); err != nil {
			return usage(err)
		}
		vo.Mail = w.mail
	}
	if w.permissions {
		vo.Permissions = true
		exp, err := o.Settings.grants()
		if err != nil {
			return usage(err)
		}
		if exp != nil {
			vo.Grants, vo.GrantProblems = exp, exp.Problems()
		}
	}
	if w.rules {
		st, err := o.Settings.sieveTarget(&o.Target, mapping)
		if err != nil {
			return usage(err)
		}
		vo.Rules, vo.SievePolicy = true, planner.SievePolicy(o.Settings.SievePolicy)
		if a, ok := st.(sieveAdapter); ok {
			vo.Sieve = a.c
		}
	}
	if vo.Rewrite, err = transform.ParseRewrites(o.Groupware.Rewrite); err != nil {
		return usage(err)
	}
	if len(w.kinds) > 0 {
		if _, ok := src.(extract.GroupwareSource); ok {
			dav, err := o.Groupware.open(g, mapping)
			if err != nil {
				return usage(err)
			}
			defer dav.Close()
			vo.DAV, vo.Kinds = dav, w.kinds
		}
		if o.Groupware.VCardVersion != "4.0" && o.Groupware.VCardVersion != "3.0" {
			return usage(fmt.Errorf("--vcard-version must be 4.0 or 3.0, not %q", o.Groupware.VCardVersion))
		}
		vo.VCardVersion, vo.TimeZone = o.Groupware.VCardVersion, o.Groupware.TimeZone
	}

	rep, err := verify.Run(ctx, vo)
	if rep != nil {
		if o.JSONFile != "" {
			if werr := writeJSONFile(o.JSONFile, rep); werr != nil && err == nil {
				err = werr
			}
		}
		if perr := printVerify(cmd.OutOrStdout(), g, rep); perr != nil && err == nil {
			err = perr
		}
	}
	switch {
	case rep != nil && rep.Verdict == verify.VerdictInterrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; run verify again")}
	case err != nil:
		return err
	case rep.Verdict == verify.VerdictDifferences || rep.Verdict == verify.VerdictIncomplete:
		return &exitError{code: exitItemsFailed}
	}
	return nil
}

// window reads the occurrence window from the flags.
func (o *VerifyOptions) window(now time.Time) (from, to time.Time, err error) {
	if o.WindowYears < 0 {
		return from, to, errors.New("--window-years must be ≥ 0")
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from, to = today.AddDate(-o.WindowYears, 0, 0), today.AddDate(o.WindowYears, 0, 0)
	if o.WindowStart != "" {
		if from, err = time.Parse("2006-01-02", o.WindowStart); err != nil {
			return from, to, fmt.Errorf("--window-start must be YYYY-MM-DD, not %q", o.WindowStart)
		}
	}
	if o.WindowEnd != "" {
		if to, err = time.Parse("2006-01-02", o.WindowEnd); err != nil {
			return from, to, fmt.Errorf("--window-end must be YYYY-MM-DD, not %q", o.WindowEnd)
		}
	}
	if !from.Before(to) {
		return from, to, errors.New("the occurrence window is empty: --window-start must come before --window-end")
	}
	return from, to, nil
}

// imapConfig is the IMAP target's configuration, as migrate builds it.
func (o *VerifyOptions) imapConfig(_ *GlobalOptions, mapping []planner.MappingEntry) (*imapsink.Config, error) {
	t := &o.Target
	if t.Addr == "" {
		return nil, errors.New("--imap-addr is required to verify mail (or --kinds without mail)")
	}
	pw, err := readSecret(t.AdminPasswordFile, "BASCULE_IMAP_ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	cfg := &imapsink.Config{Addr: t.Addr, TLS: t.TLS, CAFile: t.CAFile, InsecureSkipVerify: t.InsecureSkipVerify,
		Auth: t.Auth, AdminUser: t.AdminUser, AdminPassword: pw}
	switch t.TLS {
	case "tls", "starttls", "none":
	default:
		return nil, fmt.Errorf("--imap-tls must be tls, starttls or none, not %q", t.TLS)
	}
	switch t.Auth {
	case "login":
		cfg.Passwords = map[string]string{}
		for _, e := range mapping {
			l := e.Target
			if l == "" {
				l = e.Source
			}
			cfg.Passwords[l] = e.Password
		}
	case "master", "authzid":
		if t.AdminUser == "" || pw == "" {
			return nil, fmt.Errorf("--imap-auth %s needs --imap-admin-user and a password (--imap-admin-password-file or BASCULE_IMAP_ADMIN_PASSWORD)", t.Auth)
		}
	default:
		return nil, fmt.Errorf("--imap-auth must be master, authzid or login, not %q", t.Auth)
	}
	return cfg, nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--report-json: %w", err)
	}
	return nil
}

// printVerify prints the report as JSON (the schema of docs/VERIFY.md) or for humans.
func printVerify(w io.Writer, g *GlobalOptions, rep *verify.Report) error {
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	sampling := "all items"
	if !rep.Options.All {
		sampling = fmt.Sprintf("a sample of %d item(s) per folder", rep.Options.Sample)
		if rep.Options.SamplePercent > 0 {
			sampling += fmt.Sprintf(" or %g %%", rep.Options.SamplePercent)
		}
		sampling += fmt.Sprintf(" (seed %d)", rep.Options.Seed)
	}
	fmt.Fprintf(w, "Verification of %d mailbox(es): %s; content of %s compared; occurrences from %s to %s\n\n",
		len(rep.Mailboxes), strings.Join(rep.Options.Kinds, ", "), sampling,
		rep.Options.WindowStart.Format("2006-01-02"), rep.Options.WindowEnd.Format("2006-01-02"))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tTARGET\tFOLDERS\tSOURCE ITEMS\tTARGET ITEMS\tTARGET BYTES\tCHECKED\tOCCURRENCES\tDIFFERENCES")
	for _, m := range rep.Mailboxes {
		var src, dst, bytes, checked, occ int64
		for _, f := range m.Folders {
			src += f.Source.Items
			dst += f.Target.Items
			bytes += f.Target.Bytes
			checked += f.Checked
			occ += f.Occurrences
		}
		diffs := fmt.Sprint(m.Differences)
		if m.Error != "" {
			diffs += " (not verified)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\n", m.Address, m.Target, len(m.Folders), src, dst, humanBytes(bytes), checked, occ, diffs)
	}
	tw.Flush()
	var acls, aclFolders, shares, cols int
	sieves := map[string]int{}
	settings := false
	for _, m := range rep.Mailboxes {
		if s := m.Settings; s != nil {
			settings = true
			acls, aclFolders, shares, cols = acls+s.ACLEntries, aclFolders+s.ACLFolders, shares+s.Shares, cols+s.Collections
			if s.Sieve != "" {
				sieves[s.Sieve]++
			}
		}
	}
	if settings {
		fmt.Fprintf(w, "\nPermissions: %d ACL entries in %d folder(s), %d share(s) in %d collection(s) compared", acls, aclFolders, shares, cols)
		if len(sieves) > 0 {
			var parts []string
			for _, k := range []string{"same", "differs", "missing", "extra", "none", "user_script_kept", "not_verifiable"} {
				if n := sieves[k]; n > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", k, n))
				}
			}
			fmt.Fprintf(w, "; Sieve scripts: %s", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(rep.Differences) > 0 {
		fmt.Fprintf(w, "\n%d difference(s):\n", len(rep.Differences))
		for i, d := range rep.Differences {
			if i == 200 {
				fmt.Fprintf(w, "  … and %d more (see --output json or --report-json)\n", len(rep.Differences)-200)
				break
			}
			what := d.Subject
			if what == "" {
				what = d.TargetRef
			}
			if d.ItemKind == "permissions" || d.ItemKind == "rules" {
				what = d.TargetRef + " " + d.Field
			}
			occ := ""
			if d.Occurrence != "" {
				occ = " @ " + d.Occurrence
			}
			fmt.Fprintf(w, "  [%s] %s / %s: %q%s: %s\n", d.Kind, d.Mailbox, d.Folder, what, occ, d.Detail)
		}
	}
	if len(rep.ManualActions) > 0 {
		fmt.Fprintf(w, "\nManual actions (%d; not differences: check them by hand):\n", len(rep.ManualActions))
		for _, a := range rep.ManualActions {
			fmt.Fprintf(w, "  %s: %s (%s)\n", a.Mailbox, a.What, a.Why)
		}
	}
	if len(rep.NotVerifiable) > 0 {
		fmt.Fprintf(w, "\nNot verifiable on this target (%d):\n", len(rep.NotVerifiable))
		for _, p := range rep.NotVerifiable {
			fmt.Fprintf(w, "  %s: %s\n", p.Mailbox, p.Message)
		}
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintf(w, "\nNot verified (%d):\n", len(rep.Errors))
		for _, p := range rep.Errors {
			where := p.Mailbox
			if p.Folder != "" {
				where += " / " + p.Folder
			}
			fmt.Fprintf(w, "  %s: %s\n", where, p.Message)
		}
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", rep.Verdict)
	return nil
}
