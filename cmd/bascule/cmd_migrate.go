package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract"
	graphsrc "github.com/bascule-migrate/bascule/extract/graph"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/reports"
)

// SourceOptions choose and reach the source tenant.
type SourceOptions struct {
	GraphEndpoint      string
	AuthorityHost      string
	TenantID           string
	ClientID           string
	ClientSecretFile   string
	ClientCertFile     string
	CAFile             string
	InsecureSkipVerify bool
	PerMailboxRequests int
	PerMailboxConc     int
}

func (o *SourceOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.GraphEndpoint, "graph-endpoint", "https://graph.microsoft.com/v1.0", "Microsoft Graph base URL (national clouds: https://graph.microsoft.us/v1.0, https://microsoftgraph.chinacloudapi.cn/v1.0)")
	f.StringVar(&o.AuthorityHost, "authority-host", "https://login.microsoftonline.com/", "Entra ID login authority")
	f.StringVar(&o.TenantID, "tenant-id", "", "Entra ID tenant id (GUID or domain)")
	f.StringVar(&o.ClientID, "client-id", "", "application (client) id of the app registration")
	f.StringVar(&o.ClientSecretFile, "client-secret-file", "", "file holding the client secret (or set BASCULE_CLIENT_SECRET)")
	f.StringVar(&o.ClientCertFile, "client-cert-file", "", "PEM (certificate + key) or PFX file for certificate authentication (password in BASCULE_CLIENT_CERT_PASSWORD)")
	f.StringVar(&o.CAFile, "ca-file", "", "extra CA certificates (PEM) trusted for the authority and Graph (private PKI)")
	f.BoolVar(&o.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the source's TLS certificates (never in production)")
	f.IntVar(&o.PerMailboxRequests, "graph-requests-per-10min", 10000, "Graph request budget per mailbox per 10 minutes (Microsoft's limit is 10,000)")
	f.IntVar(&o.PerMailboxConc, "graph-concurrency", 4, "concurrent Graph requests per mailbox (Microsoft's limit is 4)")
}

func (o *SourceOptions) open(ctx context.Context, g *GlobalOptions) (*graphsrc.Source, error) {
	if o.TenantID == "" || o.ClientID == "" {
		return nil, errors.New("--tenant-id and --client-id are required (or BASCULE_TENANT_ID / BASCULE_CLIENT_ID, or the config file)")
	}
	secret, err := readSecret(o.ClientSecretFile, "BASCULE_CLIENT_SECRET")
	if err != nil {
		return nil, err
	}
	cfg := graphsrc.Config{
		Endpoint: o.GraphEndpoint, AuthorityHost: o.AuthorityHost, TenantID: o.TenantID, ClientID: o.ClientID,
		ClientSecret: secret, CAFile: o.CAFile, InsecureSkipVerify: o.InsecureSkipVerify,
		PerMailboxConcurrency: o.PerMailboxConc, PerMailboxRequests: o.PerMailboxRequests, Window: 10 * time.Minute,
		Logger: g.logger,
	}
	if o.ClientCertFile != "" {
		b, err := os.ReadFile(o.ClientCertFile)
		if err != nil {
			return nil, fmt.Errorf("--client-cert-file: %w", err)
		}
		cfg.CertificatePEM = b
		cfg.CertPassword = os.Getenv("BASCULE_CLIENT_CERT_PASSWORD")
		cfg.ClientSecret = ""
	} else if secret == "" {
		return nil, errors.New("no client credential: give --client-secret-file, BASCULE_CLIENT_SECRET or --client-cert-file")
	}
	return graphsrc.New(ctx, cfg)
}

// TargetOptions reach the IMAP target.
type TargetOptions struct {
	Addr               string
	TLS                string
	CAFile             string
	InsecureSkipVerify bool
	Auth               string
	AdminUser          string
	AdminPasswordFile  string
	Language           string
}

func (o *TargetOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Addr, "imap-addr", "", "target IMAP server host:port")
	f.StringVar(&o.TLS, "imap-tls", "starttls", "tls (implicit, port 993), starttls, or none (plaintext: test setups only)")
	f.StringVar(&o.CAFile, "imap-ca-file", "", "extra CA certificates (PEM) trusted for the target")
	f.BoolVar(&o.InsecureSkipVerify, "imap-insecure-skip-verify", false, "do not verify the target's TLS certificate (never in production)")
	f.StringVar(&o.Auth, "imap-auth", "master", "master (Dovecot user*admin), authzid (SASL PLAIN as admin for user), or login (per-user passwords from the mapping file)")
	f.StringVar(&o.AdminUser, "imap-admin-user", "", "admin / master user on the target")
	f.StringVar(&o.AdminPasswordFile, "imap-admin-password-file", "", "file holding the admin password (or set BASCULE_IMAP_ADMIN_PASSWORD)")
	f.StringVar(&o.Language, "folder-language", "en", "names for well-known folders created on the target: en (Sent, Drafts…) or fr (Éléments envoyés, Brouillons…)")
}

func (o *TargetOptions) open(g *GlobalOptions, mapping []planner.MappingEntry) (*imapsink.Sink, error) {
	if o.Addr == "" {
		return nil, errors.New("--imap-addr is required")
	}
	pw, err := readSecret(o.AdminPasswordFile, "BASCULE_IMAP_ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	cfg := imapsink.Config{Addr: o.Addr, TLS: o.TLS, CAFile: o.CAFile, InsecureSkipVerify: o.InsecureSkipVerify,
		Auth: o.Auth, AdminUser: o.AdminUser, AdminPassword: pw, Language: o.Language, Logger: g.logger}
	if o.Auth == "login" {
		cfg.Passwords = map[string]string{}
		for _, e := range mapping {
			t := e.Target
			if t == "" {
				t = e.Source
			}
			cfg.Passwords[t] = e.Password
		}
	} else if o.AdminUser == "" || pw == "" {
		return nil, fmt.Errorf("--imap-auth %s needs --imap-admin-user and a password (--imap-admin-password-file or BASCULE_IMAP_ADMIN_PASSWORD)", o.Auth)
	}
	return imapsink.New(cfg)
}

// MigrateOptions are the flags of migrate.
type MigrateOptions struct {
	Source    SourceOptions
	EWS       EWSOptions
	Target    TargetOptions
	Groupware GroupwareOptions
	Settings  SettingsOptions
	Mapping   string
	Mailbox   []string
	All       bool
	Plan      string // plan.yaml from bascule plan (cmd_plan.go)
	Wave      int    // the plan's wave to migrate

	DryRun          bool
	Deletes         string
	MailboxParallel int
	ItemParallel    int
	MaxMessageSize  int64
	SpoolDir        string

	Report ReportDirOptions // migrate only (its flags are added by newMigrateCommand)
}

func (o *MigrateOptions) AddFlags(cmd *cobra.Command) {
	o.Source.AddFlags(cmd)
	o.EWS.AddFlags(cmd)
	o.Target.AddFlags(cmd)
	o.Groupware.AddFlags(cmd)
	o.Settings.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Mapping, "mapping", "", "CSV file mapping source mailboxes to target logins: source,target[,password]")
	f.StringSliceVar(&o.Mailbox, "mailbox", nil, "source mailbox address to migrate (repeatable)")
	f.BoolVar(&o.All, "all", false, "migrate every mailbox of the tenant")
	f.StringVar(&o.Plan, "plan", "", "plan file from bascule plan (plan.yaml): migrate the mailboxes of its --wave, source → target (with --mapping only for passwords)")
	f.IntVar(&o.Wave, "wave", 0, "the wave of --plan to migrate (1, 2, …)")
	f.BoolVar(&o.DryRun, "dry-run", false, "read the source and plan; write nothing to the target nor the state")
	f.StringVar(&o.Deletes, "deletes", "keep", "what a message deleted on the source does on the target: keep or mirror")
	f.IntVar(&o.MailboxParallel, "mailbox-parallel", 4, "mailboxes migrated at once")
	f.IntVar(&o.ItemParallel, "item-parallel", 0, "messages in flight per mailbox (default 4 for Graph and EWS — Microsoft's concurrency per mailbox — and 32 for an IMAP source)")
	f.Int64Var(&o.MaxMessageSize, "max-message-size", 0, "largest message the target accepts, in bytes (0 = no limit)")
	f.StringVar(&o.SpoolDir, "spool-dir", "", "directory for large messages in transit (default: system temp)")
}

func newMigrateCommand(g *GlobalOptions) *cobra.Command {
	o := &MigrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy mailboxes from Microsoft 365, Exchange (EWS) or IMAP to IMAP and CalDAV/CardDAV targets (first pass or delta)",
		Long: `migrate copies every folder and message of the chosen mailboxes from Microsoft Graph to
the IMAP target: bytes unchanged, flags and received dates kept. With --dav-url it also copies
calendars (recurrences, exceptions, time zones, attendees, reminders), contacts (with photos)
and To Do task lists to the CalDAV/CardDAV server. Progress is recorded in the state file; run
the same command again to resume after a crash (nothing is duplicated) or, later, to copy only
what changed (delta pass). Permissions (IMAP ACLs, calendar sharing), inbox rules and
out-of-office (Sieve) follow each mailbox; what cannot be carried is listed as manual actions.

Exit codes: 0 done, 1 usage/configuration error, 2 some items failed (listed),
3 a dry-run found blocking problems, 4 interrupted (run again to resume).`,
		Example: `  # Credentials come from files or the environment, never from flag values
  export BASCULE_CLIENT_SECRET=…  BASCULE_IMAP_ADMIN_PASSWORD=…
  bascule migrate --tenant-id contoso.onmicrosoft.com --client-id 1b2c… \
      --mapping wave1.csv --imap-addr imap.example.fr:143 --imap-admin-user admin \
      --folder-language fr

  # One wave of the plan made by bascule plan (docs/PLANNING.md)
  bascule migrate --config bascule.yaml --plan plan.yaml --wave 2

  # What would happen, as JSON, for CI (exit 3 on blocking problems)
  bascule migrate --config bascule.yaml --dry-run --output json

  # Mail to Dovecot, calendars/contacts/tasks to Cyrus's CalDAV/CardDAV, new mail domain
  export BASCULE_DAV_ADMIN_PASSWORD=…
  bascule migrate --config bascule.yaml --dav-url https://dav.example.fr \
      --dav-admin-user cyrusadmin --dav-principal-template /dav/principals/user/{user}/ \
      --rewrite-domain contoso.com=example.fr

  # Calendars only, into Radicale, each user with their own password (mapping file)
  bascule migrate --mapping wave1.csv --kinds calendar --dav-url https://radicale.example.fr --dav-auth user

  # Permissions from Exchange's exports, inbox rules and out-of-office through ManageSieve
  bascule migrate --config bascule.yaml --exchange-csv-dir exports/ --sieve-addr imap.example.fr:4190

  # Exchange 2016/2019 on premises through EWS: a service account with the
  # ApplicationImpersonation role, NTLM, the internal PKI's CA
  export BASCULE_EWS_PASSWORD=…
  bascule migrate --source ews --autodiscover admin@contoso.fr --ews-user 'CONTOSO\svc-bascule' \
      --ca-file contoso-ca.pem --mapping wave1.csv --imap-addr imap.example.fr:143 --imap-admin-user admin

  # Final delta at cutover, mirroring deletions, and the run report in French
  bascule migrate --config bascule.yaml --deletes mirror --report-dir rapport/ --lang fr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrate(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	o.Report.AddFlags(cmd, "run")
	return cmd
}

func runMigrate(ctx context.Context, o *MigrateOptions, g *GlobalOptions, cmd *cobra.Command) error {
	popts, closeAll, err := o.prepare(ctx, g)
	if err != nil {
		return err
	}
	defer closeAll()
	store, err := openStore(ctx, g)
	if err != nil {
		return &exitError{code: exitConfig, err: fmt.Errorf("opening the state store %s: %w", stateName(g), err)}
	}
	defer store.Close()
	command := "migrate"
	if o.DryRun {
		command = "migrate --dry-run"
	}
	popts.Store, popts.Command = store, command
	if err := o.Report.check(); err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	err = execute(ctx, g, cmd, popts)
	if o.Report.Dir != "" && !o.DryRun && !errors.Is(err, context.Canceled) {
		// The run report covers every run the state file holds, this one included.
		rep, rerr := reports.BuildRun(ctx, store, time.Now())
		var files []string
		if rerr == nil {
			files, rerr = o.Report.write(func(dir string, opts reports.Options) (*reports.Result, error) {
				return reports.WriteRun(dir, rep, opts)
			})
		}
		if rerr != nil {
			if err == nil {
				err = &exitError{code: exitConfig, err: rerr}
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "bascule:", rerr)
			}
		} else if g.Output != "json" {
			fmt.Fprintf(cmd.ErrOrStderr(), "Report written: %s\n", strings.Join(files, ", "))
		}
	}
	return err
}

// execute runs a planned migration with progress display and prints its result.
func execute(ctx context.Context, g *GlobalOptions, cmd *cobra.Command, popts planner.Options) error {
	prog := newProgress(g, cmd.ErrOrStderr())
	popts.Progress = g.observe(prog)
	res, err := planner.Run(ctx, popts)
	prog.Wait()
	if res != nil {
		if perr := printResult(cmd.OutOrStdout(), g, res); perr != nil && err == nil {
			err = perr
		}
	}
	g.lingerMetrics(ctx)
	if err != nil {
		return err
	}
	switch {
	case res.Interrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; run the same command again to resume")}
	case res.DryRun && res.Blocking():
		return &exitError{code: exitDryRunBlock}
	case res.Totals.Failed > 0 || res.Blocking():
		return &exitError{code: exitItemsFailed}
	}
	return nil
}

func (o *MigrateOptions) selection() (extract.Selection, []planner.MappingEntry, error) {
	if o.Plan != "" || o.Wave != 0 {
		// A wave is the mapping of its mailboxes; --mapping may add their passwords.
		var sel extract.Selection
		mapping, err := o.planMapping()
		if err != nil {
			return sel, nil, err
		}
		for _, e := range mapping {
			sel.Addresses = append(sel.Addresses, e.Source)
		}
		if len(o.Mailbox) > 0 || o.All {
			return sel, nil, errors.New("choose the mailboxes with exactly one of --mapping FILE, --plan plan.yaml --wave N, --mailbox ADDRESS…, or --all")
		}
		return sel, mapping, nil
	}
	sel, mapping, n, err := mailboxSelection(o.Mapping, o.Mailbox, o.All)
	if err != nil {
		return sel, nil, err
	}
	if n != 1 {
		return sel, nil, errors.New("choose the mailboxes with exactly one of --mapping FILE, --plan plan.yaml --wave N, --mailbox ADDRESS…, or --all")
	}
	return sel, mapping, nil
}

// mailboxSelection reads the mailboxes of --mapping FILE, --mailbox ADDRESS… and --all;
// n says how many of the three were given (a command wants exactly one).
func mailboxSelection(mappingFile string, mailboxes []string, all bool) (sel extract.Selection, mapping []planner.MappingEntry, n int, err error) {
	if mappingFile != "" {
		n++
		f, err := os.Open(mappingFile)
		if err != nil {
			return sel, nil, n, fmt.Errorf("--mapping: %w", err)
		}
		defer f.Close()
		mapping, err = planner.ParseMapping(f)
		if err != nil {
			return sel, nil, n, fmt.Errorf("--mapping %s:\n%w", mappingFile, err)
		}
		for _, e := range mapping {
			sel.Addresses = append(sel.Addresses, e.Source)
		}
	}
	if len(mailboxes) > 0 {
		n++
		sel.Addresses = append(sel.Addresses, mailboxes...)
	}
	if all {
		n++
	}
	return sel, mapping, n, nil
}
