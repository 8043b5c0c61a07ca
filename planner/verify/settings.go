package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/load"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/state"
)

// Permissions and Sieve: what migrate writes is computed again with the planner's own
// functions (planner.PlanGrants, planner.PlanSieve) from the source's settings and the state
// store's folders, then compared with what the targets hold now (GETACL, DAV:acl,
// GETSCRIPT). Nothing is written.

const (
	itemPermissions = "permissions"
	itemRules       = "rules"
)

// settings verifies the mailbox's permissions and Sieve script (when those kinds are on).
func (v *mailboxVerifier) settings(ctx context.Context) error {
	o := v.o
	var s model.MailboxSettings
	if ss, ok := o.Source.(extract.SettingsSource); ok {
		var err error
		if s, err = ss.Settings(ctx, v.mbx); err != nil {
			return fmt.Errorf("reading permissions, rules and out-of-office: %w", err)
		}
	}
	folders, err := o.Store.Folders(ctx, v.mbx.ID)
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	v.rep.Settings = &SettingsReport{}
	if o.Permissions {
		grants := s.Grants
		if o.Grants != nil {
			grants = append(grants, o.Grants.Grants(v.mbx.Address)...)
		}
		if err := v.permissions(ctx, grants, folders); err != nil {
			return err
		}
	}
	if o.Rules {
		if err := v.sieve(ctx, s, folders); err != nil {
			return err
		}
	}
	return nil
}

// login maps a grantee's mailbox to its target login as migrate does: the mapping file, else
// the address.
func (o *Options) login(m model.Mailbox) string {
	if t, ok := o.Targets[strings.ToLower(m.Address)]; ok && t != "" {
		return t
	}
	if m.Target != "" {
		return m.Target
	}
	return m.Address
}

func (v *mailboxVerifier) manual(a []model.ManualAction) { v.manuals = append(v.manuals, a...) }

func (v *mailboxVerifier) notVerifiable(folder, msg string) {
	v.unverifiable = append(v.unverifiable, Problem{Mailbox: v.mbx.Address, Folder: folder, Message: msg})
}

// permissions compares the IMAP ACLs and DAV shares of the mailbox with the plan.
func (v *mailboxVerifier) permissions(ctx context.Context, grants []model.Grant, folders []state.Folder) error {
	o := v.o
	var c *imapclient.Client
	var all []string
	imapACL := o.IMAP != nil
	if imapACL {
		var err error
		if c, err = dialIMAP(ctx, o.IMAP, v.mbx.Target); err != nil {
			return fmt.Errorf("target account %q (IMAP): %w", v.mbx.Target, err)
		}
		defer c.Close()
		if all, err = personalFolders(c); err != nil {
			return fmt.Errorf("listing the target's folders: %w", err)
		}
	}
	// As migrate: collections are shared when groupware goes to a CalDAV/CardDAV target.
	dav := o.DAV != nil && len(o.Kinds) > 0
	plan := planner.PlanGrants(planner.GrantPlanInput{Mailbox: v.mbx, Grants: grants, Folders: folders, TargetFolders: all,
		IMAPACL: imapACL, DAV: dav, Login: o.login})
	v.manual(plan.Manual)
	if imapACL {
		if !c.Caps().Has(imap.CapACL) {
			v.notVerifiable("", fmt.Sprintf("the IMAP target offers no ACL (RFC 4314): %d folder right(s) cannot be read back", len(plan.ACLs)))
		} else if err := v.imapACLs(ctx, c, plan, all, folders); err != nil {
			return err
		}
	}
	if dav {
		if err := v.shares(ctx, plan, folders); err != nil {
			return err
		}
	}
	return nil
}

// personalFolders lists the selectable folders of the account's personal namespace, as
// migrate's sink does for mailbox-wide grants.
func personalFolders(c *imapclient.Client) ([]string, error) {
	return imapsink.PersonalFolders(c)
}

// rightSet is a set of RFC 4314 letters; the obsolete "c" and "d" (RFC 2086), which servers
// add to what they report, are left out, as load/imap.SameRights does.
func rightSet(s string) map[rune]bool {
	out := map[rune]bool{}
	for _, r := range s {
		if r != 'c' && r != 'd' {
			out[r] = true
		}
	}
	return out
}

func letters(m map[rune]bool) string {
	var rs []rune
	for r := range m {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return string(rs)
}

// minus returns the letters of a not in b.
func minus(a, b map[rune]bool) string {
	out := map[rune]bool{}
	for r := range a {
		if !b[r] {
			out[r] = true
		}
	}
	return letters(out)
}

// imapACLs reads every target folder's ACL and compares it with the plan's.
func (v *mailboxVerifier) imapACLs(ctx context.Context, c *imapclient.Client, plan planner.GrantPlan, all []string, folders []state.Folder) error {
	srcPath := map[string]state.Folder{}
	for _, f := range folders {
		if f.Kind == "" && f.Target != "" {
			srcPath[f.Target] = f
		}
	}
	names := append([]string{}, all...)
	for name := range plan.ACLs {
		if !contains(names, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := plan.ACLs[name]
		v.rep.Settings.ACLFolders++
		v.rep.Settings.ACLEntries += len(want)
		sf, known := srcPath[name]
		path := name
		if known {
			path = sf.Path
		}
		fr := &FolderReport{Kind: itemPermissions, Path: path, ID: sf.ID}
		data, err := c.GetACL(name).Wait()
		if err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) {
				return fmt.Errorf("GETACL %q: %w", name, err)
			}
			if len(want) > 0 {
				v.diff(fr, Difference{Kind: FolderMissing, TargetRef: name,
					Detail: fmt.Sprintf("the folder's ACL cannot be read (%s): %d identifier(s) should have rights there", strings.TrimSpace(ie.Text), len(want))})
			}
			continue
		}
		got := map[string]string{}
		for id, rs := range data.Rights {
			if len(rs) > 0 {
				got[string(id)] = string(rs)
			}
		}
		// The owner's own entry is the server's, not a grant.
		delete(got, v.mbx.Target)
		// Cyrus has no "authenticated": migrate sets "anyone" there for Exchange's Default.
		if _, ok := want[imapIDAuthenticated]; ok {
			if _, ok := got[imapIDAuthenticated]; !ok {
				if r, ok := got[imapIDAnyone]; ok {
					if _, wantAnyone := want[imapIDAnyone]; !wantAnyone {
						delete(got, imapIDAnyone)
						got[imapIDAuthenticated] = r
					}
				}
			}
		}
		ids := map[string]bool{}
		for id := range want {
			ids[id] = true
		}
		for id := range got {
			ids[id] = true
		}
		var order []string
		for id := range ids {
			order = append(order, id)
		}
		sort.Strings(order)
		for _, id := range order {
			w, inWant := want[id]
			g, inGot := got[id]
			ws, gs := rightSet(w), rightSet(g)
			d := Difference{TargetRef: name, Field: id, Expected: letters(ws), Actual: letters(gs)}
			switch {
			case !inGot:
				d.Kind = IdentifierMissing
				d.Detail = fmt.Sprintf("%s has no rights on %s; the source's grants give %q", id, name, d.Expected)
				v.diff(fr, d)
			case !inWant:
				d.Kind = IdentifierExtra
				d.Detail = fmt.Sprintf("%s has the rights %q on %s, which no grant of the source gives", id, d.Actual, name)
				v.diff(fr, d)
			default:
				if m := minus(ws, gs); m != "" {
					d.Kind = RightMissing
					d.Detail = fmt.Sprintf("%s lacks %q on %s (has %q, the source's grants give %q)", id, m, name, d.Actual, d.Expected)
					v.diff(fr, d)
				}
				if x := minus(gs, ws); x != "" {
					d.Kind = RightExtra
					d.Detail = fmt.Sprintf("%s has %q beyond the source's grants on %s (has %q, the source's grants give %q)", id, x, name, d.Actual, d.Expected)
					v.diff(fr, d)
				}
			}
		}
	}
	return nil
}

const (
	imapIDAnyone        = "anyone"
	imapIDAuthenticated = "authenticated"
)

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// shares reads the sharing of every migrated collection back and compares it with the
// planned shares.
func (v *mailboxVerifier) shares(ctx context.Context, plan planner.GrantPlan, folders []state.Folder) error {
	want := map[string]map[string]string{} // href → login → level
	cols := map[string]state.Folder{}
	for _, f := range folders {
		if f.Kind != "" && f.Target != "" {
			cols[f.Target] = f
		}
	}
	for _, sh := range plan.Shares {
		if sh.Who == v.mbx.Target {
			continue // sharing with the owner itself does nothing
		}
		if want[sh.Folder.Target] == nil {
			want[sh.Folder.Target] = map[string]string{}
		}
		level := "read"
		if sh.Write {
			level = "read-write"
		}
		want[sh.Folder.Target][sh.Who] = level
		cols[sh.Folder.Target] = sh.Folder
	}
	if len(cols) == 0 {
		return nil
	}
	rd, err := v.o.DAV.Reader(ctx, v.mbx.Target)
	if err != nil {
		return fmt.Errorf("target account %q (CalDAV/CardDAV): %w", v.mbx.Target, err)
	}
	hrefs := make([]string, 0, len(cols))
	for h := range cols {
		hrefs = append(hrefs, h)
	}
	sort.Strings(hrefs)
	unsupported, notShared := 0, 0
	for _, href := range hrefs {
		f := cols[href]
		got, err := rd.Shares(ctx, href)
		if errors.Is(err, load.ErrUnsupported) {
			// As migrate: each share of this collection is a manual action, with the reason.
			notShared++
			for _, sh := range plan.Shares {
				if sh.Who == v.mbx.Target || sh.Folder.Target != href {
					continue
				}
				unsupported++
				lv := map[bool]string{false: "read", true: "read-write"}[sh.Write]
				v.manual([]model.ManualAction{{Mailbox: v.mbx.Address, What: fmt.Sprintf("%s on %s for %s", sh.Grant.Role, sh.Folder.Path, sh.Grant.Grantee),
					Why: err.Error(), Instruction: fmt.Sprintf("share %s (%s) with %s, %s, in the server's own administration", sh.Folder.Path, sh.Folder.Target, sh.Who, lv)}})
			}
			continue
		}
		fr := &FolderReport{Kind: itemPermissions, Path: f.Path, ID: f.ID}
		if err != nil {
			if errors.Is(err, model.ErrNotFound) && len(want[href]) == 0 {
				continue // gone, and nothing to share there: the groupware check says it is gone
			}
			v.problem(f.Path, fmt.Sprintf("reading the sharing of %s: %v", href, err))
			continue
		}
		v.rep.Settings.Collections++
		v.rep.Settings.Shares += len(want[href])
		logins := map[string]bool{}
		for l := range want[href] {
			logins[l] = true
		}
		for l := range got {
			logins[l] = true
		}
		var order []string
		for l := range logins {
			order = append(order, l)
		}
		sort.Strings(order)
		for _, l := range order {
			w, inWant := want[href][l]
			g, inGot := got[l]
			d := Difference{TargetRef: href, Field: l, Expected: w, Actual: g}
			switch {
			case !inGot:
				d.Kind = IdentifierMissing
				d.Detail = fmt.Sprintf("%s is not shared with %s; the source's grants give %s", href, l, w)
			case !inWant:
				d.Kind = IdentifierExtra
				d.Detail = fmt.Sprintf("%s is shared with %s (%s), which no grant of the source gives", href, l, g)
			case w == g:
				continue
			case w == "read-write":
				d.Kind = RightMissing
				d.Detail = fmt.Sprintf("%s is shared with %s read-only; the source's grants give read-write", href, l)
			default:
				d.Kind = RightExtra
				d.Detail = fmt.Sprintf("%s is shared with %s read-write; the source's grants give read only", href, l)
			}
			v.diff(fr, d)
		}
	}
	if notShared > 0 {
		v.notVerifiable("", fmt.Sprintf("the CalDAV/CardDAV server's sharing cannot be read back (it offers neither WebDAV ACL nor resource sharing): %d collection(s), %d share(s) not verified; they are listed as manual actions, as migrate lists them", notShared, unsupported))
	}
	return nil
}

// sieve compares the account's active Sieve script with the one migrate installs.
func (v *mailboxVerifier) sieve(ctx context.Context, s model.MailboxSettings, folders []state.Folder) error {
	o := v.o
	var script []byte
	if planner.SieveNeeded(s) {
		src, err := o.Source.Folders(ctx, v.mbx)
		if err != nil {
			src = nil // as migrate: without them, a delete rule has no Deleted Items target
		}
		res, manuals, err := planner.PlanSieve(planner.SievePlanInput{Settings: s, Address: v.mbx.Address, Folders: folders, SourceFolders: src, Rewrite: o.Rewrite})
		if err != nil {
			v.problem("", fmt.Sprintf("inbox rules: %v", err))
			return nil
		}
		v.manual(manuals)
		script = res.Script
	}
	fr := &FolderReport{Kind: itemRules, Path: "Sieve"}
	if o.Sieve == nil {
		v.rep.Settings.Sieve = "not_verifiable"
		if len(script) > 0 {
			v.notVerifiable("", "no ManageSieve target given (--sieve-addr): the Sieve script cannot be read back")
		}
		return nil
	}
	sess, err := o.Sieve.Open(ctx, v.mbx.Target)
	if err != nil {
		return fmt.Errorf("ManageSieve for %q: %w", v.mbx.Target, err)
	}
	defer sess.Close()
	scripts, err := sess.Scripts(ctx)
	if err != nil {
		return fmt.Errorf("ManageSieve LISTSCRIPTS: %w", err)
	}
	active := ""
	for _, sc := range scripts {
		if sc.Active {
			active = sc.Name
		}
	}
	switch {
	case len(script) == 0 && active == planner.SieveScriptName:
		v.rep.Settings.Sieve = "extra"
		v.diff(fr, Difference{Kind: SieveExtra, TargetRef: active,
			Detail: fmt.Sprintf("Bascule's script %q is active, but the source has no inbox rule nor out-of-office on any more", active)})
	case len(script) == 0:
		v.rep.Settings.Sieve = "none"
	case active != "" && active != planner.SieveScriptName && o.SievePolicy != planner.SieveReplace:
		v.rep.Settings.Sieve = "user_script_kept"
		v.manual([]model.ManualAction{{Mailbox: v.mbx.Address, What: "inbox rules and out-of-office",
			Why:         fmt.Sprintf("the account already has its own active Sieve script %q", active),
			Instruction: fmt.Sprintf("merge Bascule's script %q into %q by hand, or rerun with --sieve replace", planner.SieveScriptName, active)}})
	case active != planner.SieveScriptName:
		v.rep.Settings.Sieve = "missing"
		d := Difference{Kind: SieveMissing, TargetRef: planner.SieveScriptName, Expected: planner.SieveScriptName, Actual: active,
			Detail: fmt.Sprintf("the account has no active Sieve script; migrate installs %q (%d line(s))", planner.SieveScriptName, len(sieveLines(script)))}
		if active != "" {
			d.Detail = fmt.Sprintf("the active Sieve script is %q, not Bascule's %q (--sieve replace)", active, planner.SieveScriptName)
		}
		v.diff(fr, d)
	default:
		got, err := sess.Get(ctx, active)
		if err != nil {
			return fmt.Errorf("ManageSieve GETSCRIPT %q: %w", active, err)
		}
		if n, w, g, same := firstDiff(script, got); !same {
			v.rep.Settings.Sieve = "differs"
			v.diff(fr, Difference{Kind: SieveDiffers, TargetRef: active, Field: fmt.Sprintf("line %d", n), Expected: w, Actual: g,
				Detail: fmt.Sprintf("the active script %q differs from the one migrate installs, first at line %d", active, n)})
		} else {
			v.rep.Settings.Sieve = "same"
		}
	}
	return nil
}

// sieveLines splits a script into lines, line endings normalised (CRLF, CR → LF) and
// trailing empty lines dropped.
func sieveLines(b []byte) []string {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	ls := strings.Split(string(b), "\n")
	for len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1]) == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// firstDiff compares two scripts line by line and returns the first differing line (1-based)
// with each side's text ("" past the end).
func firstDiff(want, got []byte) (line int, w, g string, same bool) {
	wl, gl := sieveLines(want), sieveLines(got)
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var a, b string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b || (i >= len(wl)) != (i >= len(gl)) {
			return i + 1, a, b, false
		}
	}
	return 0, "", "", true
}
