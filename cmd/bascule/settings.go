package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract/exchangecsv"
	"github.com/bascule-migrate/bascule/load/sieve"
	"github.com/bascule-migrate/bascule/planner"
)

// SettingsOptions reach the ManageSieve target and the Exchange permission exports.
type SettingsOptions struct {
	ExchangeCSV   string
	SieveAddr     string
	SieveTLS      string
	SieveAuth     string
	SieveCAFile   string
	SieveInsecure bool
	SievePolicy   string
}

func (o *SettingsOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.ExchangeCSV, "exchange-csv-dir", "", "directory holding the Exchange permission exports (mailbox-permissions.csv, recipient-permissions.csv, mailboxes.csv, folder-permissions.csv; see the README for the commands)")
	f.StringVar(&o.SieveAddr, "sieve-addr", "", "ManageSieve server host:port (usually 4190) for inbox rules and out-of-office")
	f.StringVar(&o.SieveTLS, "sieve-tls", "starttls", "starttls, tls (implicit), or none (plaintext: test setups only)")
	f.StringVar(&o.SieveAuth, "sieve-auth", "", "master (Dovecot user*admin), authzid (SASL PLAIN as admin for user: Dovecot master user or Cyrus admin), or login (per-user passwords); default: --imap-auth")
	f.StringVar(&o.SieveCAFile, "sieve-ca-file", "", "extra CA certificates (PEM) trusted for the ManageSieve server")
	f.BoolVar(&o.SieveInsecure, "sieve-insecure-skip-verify", false, "do not verify the ManageSieve server's TLS certificate (never in production)")
	f.StringVar(&o.SievePolicy, "sieve", "keep", "when the user already has an active Sieve script of their own: keep it (and report) or replace (activate Bascule's script; the user's stays, inactive)")
}

// grants loads the Exchange exports, or nothing when no directory is given.
func (o *SettingsOptions) grants() (*exchangecsv.Export, error) {
	if o.ExchangeCSV == "" {
		return nil, nil
	}
	e, err := exchangecsv.Load(o.ExchangeCSV)
	if err != nil {
		return nil, fmt.Errorf("--exchange-csv-dir: %w", err)
	}
	return e, nil
}

// sieveTarget builds the ManageSieve client with the IMAP target's admin credentials.
func (o *SettingsOptions) sieveTarget(t *TargetOptions, mapping []planner.MappingEntry) (planner.SieveTarget, error) {
	if o.SievePolicy != string(planner.SieveKeep) && o.SievePolicy != string(planner.SieveReplace) {
		return nil, fmt.Errorf("--sieve must be keep or replace, not %q", o.SievePolicy)
	}
	if o.SieveAddr == "" {
		return nil, nil
	}
	auth := o.SieveAuth
	if auth == "" {
		auth = t.Auth
	}
	pw, err := readSecret(t.AdminPasswordFile, "BASCULE_IMAP_ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	cfg := sieve.Config{Addr: o.SieveAddr, TLS: o.SieveTLS, CAFile: o.SieveCAFile, InsecureSkipVerify: o.SieveInsecure,
		Auth: auth, AdminUser: t.AdminUser, AdminPassword: pw}
	if auth == "login" {
		cfg.Passwords = map[string]string{}
		for _, e := range mapping {
			tg := e.Target
			if tg == "" {
				tg = e.Source
			}
			cfg.Passwords[tg] = e.Password
		}
	} else if t.AdminUser == "" || pw == "" {
		return nil, errors.New("--sieve-auth " + auth + " needs --imap-admin-user and its password (the ManageSieve login uses the IMAP admin)")
	}
	c, err := sieve.New(cfg)
	if err != nil {
		return nil, err
	}
	return sieveAdapter{c}, nil
}

// sieveAdapter gives load/sieve's client the planner's interface.
type sieveAdapter struct{ c *sieve.Client }

func (a sieveAdapter) Open(ctx context.Context, account string) (planner.SieveSession, error) {
	s, err := a.c.Open(ctx, account)
	if err != nil {
		return nil, err
	}
	return sieveSession{s}, nil
}

type sieveSession struct{ s *sieve.Session }

func (s sieveSession) Scripts(ctx context.Context) ([]planner.SieveScript, error) {
	l, err := s.s.Scripts(ctx)
	out := make([]planner.SieveScript, len(l))
	for i, x := range l {
		out[i] = planner.SieveScript{Name: x.Name, Active: x.Active}
	}
	return out, err
}
func (s sieveSession) Check(ctx context.Context, b []byte) error { return s.s.Check(ctx, b) }
func (s sieveSession) Put(ctx context.Context, name string, b []byte) error {
	return s.s.Put(ctx, name, b)
}
func (s sieveSession) SetActive(ctx context.Context, name string) error {
	return s.s.SetActive(ctx, name)
}
func (s sieveSession) Close() error { return s.s.Close() }
