package planner

import (
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform/acl"
)

// TestPlanGrants: rights add up per (folder, identifier), mailbox-wide grants cover every
// target folder and share every collection read-write, a calendar role shares its
// collection once (write wins), and what IMAP/DAV cannot carry is a manual action.
func TestPlanGrants(t *testing.T) {
	owner := model.Mailbox{Address: "alice@contoso.example", Target: "alice"}
	folders := []state.Folder{
		{ID: "inbox", Path: "Inbox", Target: "INBOX"},
		{ID: "proj", Path: "Inbox/Projets", Target: "INBOX/Projets"},
		{ID: "cal", Path: "calendar: Calendar", Target: "/dav/calendars/user/alice/cal/", Kind: model.KindCalendar},
	}
	login := func(m model.Mailbox) string { return strings.Split(m.Address, "@")[0] }
	reviewer := model.Grant{Owner: owner.Address, Grantee: "bob@contoso.example", Scope: model.ScopeFolder, FolderPath: "Inbox/Projets", Role: "Reviewer"}
	editor := model.Grant{Owner: owner.Address, Grantee: "bob@contoso.example", Scope: model.ScopeFolder, FolderID: "proj", Role: "Editor"}
	full := model.Grant{Owner: owner.Address, Grantee: "carol@contoso.example", Scope: model.ScopeMailbox, Role: "FullAccess"}
	calRead := model.Grant{Owner: owner.Address, Grantee: "bob@contoso.example", Scope: model.ScopeCalendar, FolderID: "cal", Role: "Reviewer"}
	calWrite := model.Grant{Owner: owner.Address, Grantee: "bob@contoso.example", Scope: model.ScopeCalendar, FolderID: "cal", Role: "Editor"}
	in := GrantPlanInput{Mailbox: owner, Folders: folders, TargetFolders: []string{"INBOX", "INBOX/Projets", "Sent"}, IMAPACL: true, DAV: true, Login: login,
		Grants: []model.Grant{reviewer, editor, full, calRead, calWrite,
			{Owner: owner.Address, Grantee: "dave@contoso.example", Scope: model.ScopeSendAs, Role: "SendAs"},
			{Owner: owner.Address, Grantee: "Team", Group: true, Scope: model.ScopeMailbox, Role: "FullAccess"},
			{Owner: owner.Address, Grantee: "eve@contoso.example", Deny: true, Scope: model.ScopeMailbox, Role: "FullAccess"},
			{Owner: owner.Address, Grantee: "bob@contoso.example", Scope: model.ScopeFolder, FolderPath: "Nowhere", Role: "Reviewer"},
		}}
	p := PlanGrants(in)
	r1, _, _ := acl.IMAP(reviewer)
	r2, _, _ := acl.IMAP(editor)
	rf, _, _ := acl.IMAP(full)
	if got, want := p.ACLs["INBOX/Projets"]["bob"], acl.Normalize(r1+r2); got != want || got == "" {
		t.Errorf("bob on INBOX/Projets = %q, want the union %q", got, want)
	}
	for _, f := range in.TargetFolders {
		if got := p.ACLs[f]["carol"]; got != acl.Normalize(rf) || got == "" {
			t.Errorf("carol on %s = %q, want %q (FullAccess covers every folder)", f, got, rf)
		}
	}
	if _, ok := p.ACLs["INBOX"]["bob"]; ok {
		t.Errorf("bob has rights on INBOX: %v", p.ACLs["INBOX"])
	}
	want := map[string]bool{"carol": true, "bob": true}
	if len(p.Shares) != 2 {
		t.Fatalf("shares = %+v, want carol's and bob's", p.Shares)
	}
	for _, s := range p.Shares {
		if s.Folder.Target != folders[2].Target || s.Write != want[s.Who] {
			t.Errorf("share %+v, want %s read-write on the calendar", s, s.Who)
		}
	}
	if len(p.Manual) != 4 {
		t.Errorf("manual actions = %d, want 4 (send-as, group, deny, unknown folder):\n%+v", len(p.Manual), p.Manual)
	}
	for _, a := range p.Manual {
		if a.Mailbox != owner.Address || a.Why == "" || a.Instruction == "" {
			t.Errorf("manual action %+v: want the owner, a reason and an instruction", a)
		}
	}
	// Without an ACL-capable mail target or a DAV target, everything is manual.
	in.IMAPACL, in.DAV = false, false
	if p := PlanGrants(in); len(p.ACLs) != 0 || len(p.Shares) != 0 || len(p.Manual) <= 4 {
		t.Errorf("no target: %d ACL folders, %d shares, %d manual actions; want none, none, more than 4", len(p.ACLs), len(p.Shares), len(p.Manual))
	}
}
