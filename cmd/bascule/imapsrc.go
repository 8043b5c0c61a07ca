package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract"
	imapsrc "github.com/bascule-migrate/bascule/extract/imap"
)

// IMAPSourceOptions reach a source IMAP server (--source imap): Exchange's IMAP, Zimbra, an
// old Dovecot or Cyrus.
type IMAPSourceOptions struct {
	Addr          string
	TLS           string
	Auth          string
	AdminUser     string
	PasswordFile  string
	PasswordsFile string
	MasterFormat  string
	Connections   int
	Pipeline      int
}

func (o *IMAPSourceOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Addr, "imap-source-addr", "", "source IMAP server, host:port (--source imap)")
	f.StringVar(&o.TLS, "imap-source-tls", "", "tls (implicit, port 993), starttls, or none (loopback only); default tls on port 993, else starttls")
	f.StringVar(&o.Auth, "imap-source-auth", "master", "master (Dovecot master user: LOGIN user*admin), plain-authzid (SASL PLAIN acting for the user: Cyrus, Zimbra, Dovecot admins), or user (each user's own password from --imap-source-passwords-file)")
	f.StringVar(&o.AdminUser, "imap-source-admin-user", "", "admin / master user for --imap-source-auth master or plain-authzid")
	f.StringVar(&o.PasswordFile, "imap-source-password-file", "", "file holding the admin user's password (or set BASCULE_IMAP_SOURCE_PASSWORD)")
	f.StringVar(&o.PasswordsFile, "imap-source-passwords-file", "", "for --imap-source-auth user: a file of \"login:password\" lines")
	f.StringVar(&o.MasterFormat, "imap-source-master-format", "{user}*{admin}", `LOGIN name of --imap-source-auth master, from {user} and {admin} (Exchange: "{admin}\{user}" style, see docs/IMAP-SOURCE.md)`)
	f.IntVar(&o.Connections, "imap-source-connections", 4, "connections per mailbox to the source (keep under the server's per-user limit, e.g. Dovecot's mail_max_userip_connections)")
	f.IntVar(&o.Pipeline, "imap-source-pipeline", 8, "UID FETCH commands in flight per connection")
}

// open opens the IMAP source. mailboxes are the selected addresses (IMAP has no directory):
// each is the login of a source account.
func (o *IMAPSourceOptions) open(_ context.Context, g *GlobalOptions, src *SourceOptions, mailboxes []string) (extract.Source, error) {
	if o.Addr == "" {
		return nil, errors.New("--source imap needs --imap-source-addr host:port")
	}
	cfg := imapsrc.Config{Addr: o.Addr, TLS: strings.ToLower(o.TLS), Auth: strings.ToLower(o.Auth), AdminUser: o.AdminUser,
		MasterFormat: o.MasterFormat, Mailboxes: mailboxes, Connections: o.Connections, Pipeline: o.Pipeline,
		CAFile: src.CAFile, InsecureSkipVerify: src.InsecureSkipVerify, Logger: g.logger}
	switch cfg.Auth {
	case imapsrc.AuthMaster, imapsrc.AuthPlainAuthzid:
		pw, err := readSecret(o.PasswordFile, "BASCULE_IMAP_SOURCE_PASSWORD")
		if err != nil {
			return nil, err
		}
		if o.AdminUser == "" || pw == "" {
			return nil, fmt.Errorf("--imap-source-auth %s needs --imap-source-admin-user and its password (--imap-source-password-file or BASCULE_IMAP_SOURCE_PASSWORD)", cfg.Auth)
		}
		cfg.AdminPassword = pw
	case imapsrc.AuthUser:
		if o.PasswordsFile == "" {
			return nil, errors.New("--imap-source-auth user needs --imap-source-passwords-file (lines \"login:password\")")
		}
		pws, err := readPasswords(o.PasswordsFile)
		if err != nil {
			return nil, err
		}
		cfg.Passwords = pws
	default:
		return nil, fmt.Errorf("--imap-source-auth must be master, plain-authzid or user, not %q", o.Auth)
	}
	if len(mailboxes) == 0 {
		return nil, errors.New("IMAP cannot list a server's accounts: choose the mailboxes with --mapping or --mailbox")
	}
	return imapsrc.New(cfg)
}

// readPasswords reads "login:password" lines (blank lines and # comments skipped).
func readPasswords(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the passwords file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		login, pw, ok := strings.Cut(line, ":")
		if !ok || login == "" {
			return nil, fmt.Errorf("%s line %d: want login:password", path, n)
		}
		out[login] = pw
	}
	return out, sc.Err()
}
