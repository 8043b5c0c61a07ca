package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract"
	ewssrc "github.com/bascule-migrate/bascule/extract/ews"
)

// EWSOptions reach an Exchange server through EWS (Exchange 2016/2019 on premises, or
// Exchange Online until EWS is switched off there).
type EWSOptions struct {
	Kind         string
	URL          string
	Autodiscover string
	Auth         string
	User         string
	PasswordFile string
	Impersonate  bool
	Version      string
	Concurrency  int
	// IMAP reaches the source of --source imap (imapsrc.go).
	IMAP IMAPSourceOptions
}

func (o *EWSOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Kind, "source", "graph", "where mailboxes are read: graph (Exchange Online, Microsoft Graph), ews (Exchange 2016/2019 on premises, Exchange Web Services) or imap (any IMAP server: Exchange's IMAP, Zimbra, Dovecot, Cyrus; --imap-source-*)")
	f.StringVar(&o.URL, "ews-url", "", "EWS endpoint, e.g. https://mail.example.org/EWS/Exchange.asmx (or use --autodiscover)")
	f.StringVar(&o.Autodiscover, "autodiscover", "", "an address whose domain's Autodiscover gives the EWS URL (instead of --ews-url)")
	f.StringVar(&o.Auth, "ews-auth", "ntlm", "ntlm, basic, or oauth (Exchange Online: the app of --tenant-id/--client-id with the EWS.AccessAsUser.All / full_access_as_app permission)")
	f.StringVar(&o.User, "ews-user", "", `service account for ntlm/basic: DOMAIN\user or user@domain`)
	f.StringVar(&o.PasswordFile, "ews-password-file", "", "file holding the service account's password (or set BASCULE_EWS_PASSWORD)")
	f.BoolVar(&o.Impersonate, "ews-impersonate", true, "act as each mailbox with ExchangeImpersonation (the account needs the ApplicationImpersonation role); false: delegate (FullAccess) access")
	f.StringVar(&o.Version, "ews-version", "Exchange2016", "RequestServerVersion sent to the server (Exchange2013, Exchange2016, …)")
	f.IntVar(&o.Concurrency, "ews-concurrency", 4, "concurrent EWS calls per mailbox (keep under the server's EWSMaxConcurrency, 10 by default)")
	o.IMAP.AddFlags(cmd)
}

// openSource opens the source --source names (graph by default). addresses are the selected
// mailboxes (a source that cannot list a directory, EWS, needs them).
func openSource(ctx context.Context, g *GlobalOptions, src *SourceOptions, ews *EWSOptions, addresses []string) (extract.Source, error) {
	switch ews.Kind {
	case "graph", "":
		return src.open(ctx, g)
	case "ews":
		return ews.open(ctx, g, src, addresses)
	case "imap":
		return ews.IMAP.open(ctx, g, src, addresses)
	default:
		return nil, fmt.Errorf("--source must be graph, ews or imap, not %q", ews.Kind)
	}
}

// open opens the EWS source. mailboxes are the addresses of the selection (EWS cannot list
// a directory).
func (o *EWSOptions) open(ctx context.Context, g *GlobalOptions, src *SourceOptions, mailboxes []string) (extract.Source, error) {
	if o.URL == "" && o.Autodiscover == "" {
		return nil, errors.New("--source ews needs --ews-url or --autodiscover user@domain")
	}
	cfg := ewssrc.Config{AutodiscoverAddress: o.Autodiscover, Mailboxes: mailboxes}
	cfg.URL, cfg.Auth, cfg.Impersonate, cfg.ServerVersion = o.URL, strings.ToLower(o.Auth), o.Impersonate, o.Version
	cfg.CAFile, cfg.InsecureSkipVerify, cfg.PerMailboxConcurrency, cfg.Logger = src.CAFile, src.InsecureSkipVerify, o.Concurrency, g.logger
	switch cfg.Auth {
	case "ntlm", "basic":
		pw, err := readSecret(o.PasswordFile, "BASCULE_EWS_PASSWORD")
		if err != nil {
			return nil, err
		}
		if o.User == "" || pw == "" {
			return nil, fmt.Errorf("--ews-auth %s needs --ews-user and a password (--ews-password-file or BASCULE_EWS_PASSWORD)", cfg.Auth)
		}
		cfg.Username, cfg.Password = o.User, pw
	case "oauth":
		if src.TenantID == "" || src.ClientID == "" {
			return nil, errors.New("--ews-auth oauth needs --tenant-id and --client-id (and a client secret)")
		}
		secret, err := readSecret(src.ClientSecretFile, "BASCULE_CLIENT_SECRET")
		if err != nil {
			return nil, err
		}
		cred, err := azidentity.NewClientSecretCredential(src.TenantID, src.ClientID, secret, nil)
		if err != nil {
			return nil, err
		}
		cfg.Tokens = azToken{cred: cred}
	default:
		return nil, fmt.Errorf("--ews-auth must be ntlm, basic or oauth, not %q", o.Auth)
	}
	if len(mailboxes) == 0 {
		return nil, errors.New("EWS cannot list a directory: choose the mailboxes with --mapping or --mailbox")
	}
	return ewssrc.New(ctx, cfg)
}

// azToken gives EWS bearer tokens from an Entra ID app (Exchange Online).
type azToken struct {
	cred *azidentity.ClientSecretCredential
}

func (a azToken) Token(ctx context.Context) (string, error) {
	t, err := a.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://outlook.office365.com/.default"}})
	return t.Token, err
}
