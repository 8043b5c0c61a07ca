package planner

import (
	"fmt"
	"strings"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform"
	"github.com/bascule-migrate/bascule/transform/acl"
	"github.com/bascule-migrate/bascule/transform/sieve"
)

// The settings migrate writes for a mailbox, computed without I/O: migrate applies them, and
// bascule verify (planner/verify) compares them with what the targets hold.

// GrantPlanInput is what PlanGrants needs to know of one mailbox.
type GrantPlanInput struct {
	// Mailbox is the owner (Address, Target login).
	Mailbox model.Mailbox
	// Grants are the source's grants plus the exports' (--exchange-csv-dir).
	Grants []model.Grant
	// Folders are the mailbox's migrated folders and collections (the state store's).
	Folders []state.Folder
	// TargetFolders are every mail folder of the target account: mailbox-wide grants apply
	// to each.
	TargetFolders []string
	// IMAPACL: an ACL-capable mail target is written; DAV: a CalDAV/CardDAV target is.
	IMAPACL, DAV bool
	// Login maps a grantee's mailbox to its target login (the mapping file, else the address).
	Login func(model.Mailbox) string
}

// PlannedShare is one collection shared with one login.
type PlannedShare struct {
	Folder state.Folder
	Grant  model.Grant
	Who    string
	Write  bool
}

// GrantPlan is what migrate writes for a mailbox's grants.
type GrantPlan struct {
	// ACLs: target folder → identifier → rights (RFC 4314 letters, normalised). Rights add
	// up: Exchange gives a delegate the union of a mailbox-wide FullAccess and folder roles,
	// while SETACL replaces an identifier's rights, so each (folder, identifier) is set once.
	ACLs map[string]map[string]string
	// Shares, in the order of the grants, one per (collection, login); write is the union.
	Shares []PlannedShare
	// Manual are the grants left to the administrator; Warnings the ones carried inexactly.
	Manual   []model.ManualAction
	Warnings []string
}

// GranteeLogin maps a grantee to the target's identifier: a login, "authenticated" for
// Exchange's Default, "anyone" for Anonymous; ok is false for what cannot be resolved (a
// group, an orphaned SID, a display name).
func GranteeLogin(g model.Grant, login func(model.Mailbox) string) (string, bool) {
	switch g.Grantee {
	case model.GranteeDefault:
		return "authenticated", true
	case model.GranteeAnonymous:
		return "anyone", true
	}
	if !strings.Contains(g.Grantee, "@") {
		return "", false
	}
	return login(model.Mailbox{Address: g.Grantee}), true
}

// PlanGrants computes the IMAP ACLs, DAV shares and manual actions of a mailbox's grants
// with transform/acl's role table.
func PlanGrants(in GrantPlanInput) GrantPlan {
	p := GrantPlan{ACLs: map[string]map[string]string{}}
	owner := in.Mailbox.Address
	manual := func(what, why, instruction string) {
		p.Manual = append(p.Manual, model.ManualAction{Mailbox: owner, What: what, Why: why, Instruction: instruction})
	}
	type shareKey struct{ href, who string }
	idx := map[shareKey]int{}
	addShare := func(f state.Folder, g model.Grant, who string, write bool) {
		k := shareKey{f.Target, who}
		if i, ok := idx[k]; ok {
			p.Shares[i].Write = p.Shares[i].Write || write
			return
		}
		idx[k] = len(p.Shares)
		p.Shares = append(p.Shares, PlannedShare{Folder: f, Grant: g, Who: who, Write: write})
	}
	for _, g := range in.Grants {
		if strings.EqualFold(g.Role, "None") && len(g.Rights) == 0 {
			continue // an explicit "no access" entry: nothing to carry
		}
		if g.Deny {
			manual(fmt.Sprintf("deny %s to %s", g.Role, g.Grantee), "an explicit deny has no IMAP/DAV equivalent",
				fmt.Sprintf("make sure %s has no access to %s's mailbox on the target", g.Grantee, owner))
			continue
		}
		if g.Group {
			manual(fmt.Sprintf("%s for group %s (%s)", g.Role, g.Grantee, g.Origin), "the grantee is a group: IMAP ACLs and DAV shares name logins, and target groups (Dovecot group=…, Cyrus group:…) are set up differently",
				fmt.Sprintf("grant the equivalent of %s on %s's %s to the group's members or to the target's group", g.Role, owner, describeScope(g)))
			continue
		}
		who, ok := GranteeLogin(g, in.Login)
		if !ok {
			manual(fmt.Sprintf("%s for %q (%s)", g.Role, g.Grantee, g.Origin), "the grantee is not a mailbox address (a group, a deleted user's SID or a display name)",
				fmt.Sprintf("grant the equivalent of %s on %s's %s to the right people by hand", g.Role, owner, describeScope(g)))
			continue
		}
		switch g.Scope {
		case model.ScopeSendAs, model.ScopeSendOnBehalf:
			manual(fmt.Sprintf("%s for %s", g.Role, g.Grantee), "IMAP and DAV have no send-as right",
				acl.ManualInstruction(g, in.Mailbox.Target, who))
		case model.ScopeMailbox, model.ScopeFolder:
			rights, exact, note := acl.IMAP(g)
			if !in.IMAPACL {
				manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "the mail target does not support IMAP ACL (or mail is not migrated)",
					fmt.Sprintf("give %s the rights %q on %s", who, rights, describeScope(g)))
				continue
			}
			if rights == "" {
				if note != "" {
					manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), note, "nothing to set on IMAP; check whether the delegate needs another channel (free/busy)")
				}
				continue
			}
			var targets []string
			if g.Scope == model.ScopeMailbox {
				targets = in.TargetFolders
			} else if f, ok := findFolder(in.Folders, g); ok {
				targets = []string{f.Target}
			} else {
				manual(fmt.Sprintf("%s on folder %q for %s", g.Role, g.FolderPath, g.Grantee), "the folder was not found among the migrated folders",
					fmt.Sprintf("give %s the rights %q on that folder by hand", who, rights))
				continue
			}
			for _, name := range targets {
				if p.ACLs[name] == nil {
					p.ACLs[name] = map[string]string{}
				}
				p.ACLs[name][who] = acl.Normalize(p.ACLs[name][who] + rights)
			}
			if !exact {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s on %s for %s: carried as IMAP rights %q (%s)", g.Role, describeScope(g), g.Grantee, rights, note))
			}
			if g.Scope == model.ScopeMailbox && in.DAV {
				// Full access covers the calendars and address books too.
				for _, f := range in.Folders {
					if f.Kind != "" {
						addShare(f, g, who, true)
					}
				}
			}
		case model.ScopeCalendar, model.ScopeContacts:
			_, level, exact, note := acl.DAV(g)
			if level == "none" {
				continue
			}
			f, ok := findCollection(in.Folders, g)
			if !ok || !in.DAV {
				manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "the collection was not migrated to a CalDAV/CardDAV target",
					fmt.Sprintf("share %s's %s with %s (%s) on the target", owner, describeScope(g), who, level))
				continue
			}
			if level == "freebusy" {
				manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "free/busy-only sharing has no portable DAV form",
					fmt.Sprintf("publish %s's free/busy to %s on the target", owner, who))
				continue
			}
			addShare(f, g, who, level == "write")
			if !exact {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s on %s for %s: carried as %s (%s)", g.Role, describeScope(g), g.Grantee, level, note))
			}
		default:
			manual(fmt.Sprintf("%s for %s", g.Role, g.Grantee), "unknown grant scope "+string(g.Scope), "grant it by hand")
		}
	}
	return p
}

// SieveNeeded says whether a mailbox's settings give a Sieve script at all: inbox rules, or
// an auto-reply that is on.
func SieveNeeded(s model.MailboxSettings) bool {
	active := s.AutoReply != nil && s.AutoReply.Status != "" && s.AutoReply.Status != "disabled"
	return len(s.Rules) > 0 || active
}

// SievePlanInput is what PlanSieve needs to know of one mailbox.
type SievePlanInput struct {
	Settings model.MailboxSettings
	// Address is the mailbox's own address (a rule's "sent to me" condition).
	Address string
	// Folders are the mailbox's migrated folders (the state store's); SourceFolders the
	// source's (for the Deleted Items folder; nil when they could not be listed).
	Folders       []state.Folder
	SourceFolders []model.Folder
	Rewrite       transform.Rewriter
}

// PlanSieve computes the Sieve script migrate installs for a mailbox (transform/sieve, with
// the migrated folders' target names), and the manual actions of the rules it cannot carry.
// An empty Result.Script means there is nothing to install.
func PlanSieve(in SievePlanInput) (sieve.Result, []model.ManualAction, error) {
	byID := map[string]string{}
	for _, f := range in.Folders {
		if f.Kind == "" {
			byID[f.ID] = f.Target
		}
	}
	trash := ""
	for _, f := range in.SourceFolders {
		if f.WellKnown == model.WellKnownDeletedItems {
			trash = byID[f.ID]
		}
	}
	res, err := sieve.Script(in.Settings.Rules, in.Settings.AutoReply, sieve.Options{Folders: byID, Trash: trash, Addresses: []string{in.Address}, Rewrite: in.Rewrite})
	if err != nil {
		return res, nil, err
	}
	var manual []model.ManualAction
	for _, u := range res.Unmapped {
		manual = append(manual, model.ManualAction{Mailbox: in.Address, What: fmt.Sprintf("inbox rule %q", u.Rule), Why: u.Reason,
			Instruction: fmt.Sprintf("recreate the rule %q by hand in the user's webmail filters", u.Rule)})
	}
	return res, manual, nil
}

// GrantProblemActions are the manual actions of the grant exports' entries that could not be
// resolved (Options.GrantProblems), listed once per run (no mailbox), as Run lists them.
func GrantProblemActions(problems []string) []model.ManualAction {
	var out []model.ManualAction
	for _, p := range problems {
		out = append(out, model.ManualAction{What: "permission export entry", Why: p,
			Instruction: "grant the equivalent right by hand, or fix the identity in the export and run again"})
	}
	return out
}
