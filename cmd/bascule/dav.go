package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	davsink "github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/transform"
)

// GroupwareOptions choose what moves besides mail and reach the CalDAV/CardDAV target.
type GroupwareOptions struct {
	Kinds              []string
	URL                string
	CAFile             string
	InsecureSkipVerify bool
	Auth               string
	AdminUser          string
	AdminPasswordFile  string
	PrincipalTemplate  string
	VCardVersion       string
	TimeZone           string
	Rewrite            []string
}

var allKinds = []string{"mail", string(model.KindCalendar), string(model.KindContacts), string(model.KindTasks), "permissions", "rules"}

func (o *GroupwareOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&o.Kinds, "kinds", nil, "what to move: mail, calendar, contacts, tasks, permissions (IMAP ACLs, calendar shares), rules (inbox rules and out-of-office → Sieve) (default: mail and permissions, plus calendar, contacts and tasks with --dav-url, plus rules with --sieve-addr)")
	f.StringVar(&o.URL, "dav-url", "", "CalDAV/CardDAV server base URL (discovery starts at its /.well-known/caldav and /.well-known/carddav)")
	f.StringVar(&o.CAFile, "dav-ca-file", "", "extra CA certificates (PEM) trusted for the CalDAV/CardDAV server")
	f.BoolVar(&o.InsecureSkipVerify, "dav-insecure-skip-verify", false, "do not verify the CalDAV/CardDAV server's TLS certificate (never in production)")
	f.StringVar(&o.Auth, "dav-auth", "admin", "admin (one account writes into every user's collections) or user (per-user passwords from the mapping file)")
	f.StringVar(&o.AdminUser, "dav-admin-user", "", "CalDAV/CardDAV admin account (Cyrus: an admins: entry; Radicale: a user the rights file lets write everywhere)")
	f.StringVar(&o.AdminPasswordFile, "dav-admin-password-file", "", "file holding the DAV admin password (or set BASCULE_DAV_ADMIN_PASSWORD)")
	f.StringVar(&o.PrincipalTemplate, "dav-principal-template", "", "another user's principal URL path in admin mode, e.g. /dav/principals/user/{user}/ (Cyrus) or /{user}/ (Radicale); default: derived from the admin's own")
	f.StringVar(&o.VCardVersion, "vcard-version", "3.0", "vCard version written to address books: 3.0 (every server keeps photos) or 4.0 (Cyrus 3.6 stores 4.0 cards as 3.0 and loses their photos)")
	f.StringVar(&o.TimeZone, "default-time-zone", "", "time zone (Windows or IANA id) for events in a custom Exchange time zone (default UTC, reported)")
	f.StringArrayVar(&o.Rewrite, "rewrite-domain", nil, "rewrite addresses of organizers, attendees and contacts: old.example=new.example (repeatable)")
}

// what says what a run moves.
type what struct {
	mail, permissions, rules bool
	kinds                    []model.CollectionKind
}

// kinds returns what moves; sieve says whether a ManageSieve target is configured.
func (o *GroupwareOptions) kinds(sieve bool) (w what, err error) {
	ks := o.Kinds
	if len(ks) == 0 {
		ks = []string{"mail", "permissions"}
		if o.URL != "" {
			ks = append(ks, string(model.KindCalendar), string(model.KindContacts), string(model.KindTasks))
		}
		if sieve {
			ks = append(ks, "rules")
		}
	}
	var kinds []model.CollectionKind
	for _, k := range ks {
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case k == "mail":
			w.mail = true
		case k == "permissions":
			w.permissions = true
		case k == "rules":
			w.rules = true
		case slices.Contains(allKinds, k):
			if !slices.Contains(kinds, model.CollectionKind(k)) {
				kinds = append(kinds, model.CollectionKind(k))
			}
		default:
			return w, fmt.Errorf("--kinds: unknown kind %q (use mail, calendar, contacts, tasks, permissions, rules)", k)
		}
	}
	if len(kinds) > 0 && o.URL == "" {
		return w, errors.New("--kinds calendar/contacts/tasks need a CalDAV/CardDAV target: add --dav-url")
	}
	w.kinds = kinds
	return w, nil
}

func (o *GroupwareOptions) open(g *GlobalOptions, mapping []planner.MappingEntry) (*davsink.Sink, error) {
	pw, err := readSecret(o.AdminPasswordFile, "BASCULE_DAV_ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	cfg := davsink.Config{URL: o.URL, CAFile: o.CAFile, InsecureSkipVerify: o.InsecureSkipVerify, Auth: o.Auth,
		AdminUser: o.AdminUser, AdminPassword: pw, PrincipalTemplate: o.PrincipalTemplate, Logger: g.logger}
	switch o.Auth {
	case "user":
		cfg.Passwords = map[string]string{}
		for _, e := range mapping {
			t := e.Target
			if t == "" {
				t = e.Source
			}
			cfg.Passwords[t] = e.Password
		}
	case "admin":
		if o.AdminUser == "" || pw == "" {
			return nil, errors.New("--dav-auth admin needs --dav-admin-user and a password (--dav-admin-password-file or BASCULE_DAV_ADMIN_PASSWORD)")
		}
	default:
		return nil, fmt.Errorf("--dav-auth must be admin or user, not %q", o.Auth)
	}
	return davsink.New(cfg)
}

func (o *GroupwareOptions) converter() (planner.Converter, error) {
	rw, err := transform.ParseRewrites(o.Rewrite)
	if err != nil {
		return nil, err
	}
	if o.VCardVersion != "4.0" && o.VCardVersion != "3.0" {
		return nil, fmt.Errorf("--vcard-version must be 4.0 or 3.0, not %q", o.VCardVersion)
	}
	return planner.NewConverter(planner.ConvertOptions{Rewrite: rw, VCardVersion: o.VCardVersion, TimeZone: o.TimeZone}), nil
}
