package sieve

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// sieveTest runs script on msg with Pigeonhole's sieve-test (which executes a script on a
// message without delivering it and prints the actions) and returns the "Performed actions"
// and "Implicit keep" sections.
func sieveTest(t *testing.T, script []byte, msg, from, rcpt string) (performed, keep string) {
	t.Helper()
	const tool = "/usr/bin/sieve-test"
	if _, err := os.Stat(tool); err != nil {
		missing(t, "sieve-test (apt-get install dovecot-sieve)")
	}
	dir, err := os.MkdirTemp("", "svt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// sieve-test drops privileges to mail_uid and refuses root: as root, run as nobody.
	uid, gid := fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getgid())
	if os.Getuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("no user nobody to run sieve-test as: %v", err)
		}
		uid, gid = u.Uid, u.Gid
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf("first_valid_uid = 1\nfirst_valid_gid = 1\nmail_uid = %s\nmail_gid = %s\nmail_location = maildir:%s/mail\n", uid, gid, dir)
	if err := os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, mp := filepath.Join(dir, "s.sieve"), filepath.Join(dir, "m.eml")
	if err := os.WriteFile(sp, script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, []byte(strings.ReplaceAll(msg, "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-c", filepath.Join(dir, "dovecot.conf"), "-f", from, "-a", rcpt, "-r", rcpt, sp, mp).Output()
	if err != nil {
		t.Fatalf("sieve-test: %v\n%s", err, out)
	}
	s := string(out)
	i, j := strings.Index(s, "Performed actions:"), strings.Index(s, "Implicit keep:")
	if i < 0 || j < i {
		t.Fatalf("sieve-test printed:\n%s", s)
	}
	return s[i:j], s[j:]
}

// TestBehaviour runs golden scripts on messages with Pigeonhole and checks where each lands,
// so header names, address parts and the order of actions are proven, not only the syntax.
func TestBehaviour(t *testing.T) {
	scripts := map[string][]byte{}
	for _, name := range []string{"conditions", "actions", "oof-scheduled-all", "oof-always-none", "oof-with-rules"} {
		rules, ar, opt := loadCase(t, filepath.Join("testdata", name+".json"))
		if name == "oof-scheduled-all" {
			ar.End = ar.End.AddDate(100, 0, 0) // inside the range now
		}
		res, err := Script(rules, ar, opt)
		if err != nil {
			t.Fatal(err)
		}
		scripts[name] = res.Script
	}
	const me = "alice@contoso.com"
	cases := []struct {
		name, script, from, msg string
		want, notWant           []string // substrings of the performed actions
		keep                    bool     // the implicit keep files into INBOX
	}{
		{"boss flagged and stopped", "conditions", "boss@contoso.com",
			"From: The Boss <BOSS@Contoso.com>\nTo: alice@contoso.com\nSubject: hi\n\nbody\n",
			nil, []string{"Trash", "Newsletters"}, true},
		{"rewritten boss address too", "conditions", "boss@contoso.example",
			"From: boss@contoso.example\nTo: someone@else.org\nSubject: hi\n\nbody\n",
			nil, []string{"store message in folder: Projects"}, true},
		{"sent to the team, in cc", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nCc: Team <team@contoso.com>\nSubject: plan\n\nbody\n",
			[]string{"store message in folder: Projects"}, nil, false},
		{"encoded subject", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: =?UTF-8?Q?=5BALERT=5D_disk?=\n\nbody\n",
			[]string{"\\seen"}, nil, true},
		{"body word", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: news\nContent-Type: text/plain\n\nto UNSUBSCRIBE click\n",
			[]string{"store message in folder: Newsletters/Tech"}, nil, false},
		{"x-priority high is flagged", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: s\nX-Priority: 1 (Highest)\n\nbody\n",
			[]string{"\\flagged"}, nil, true},
		{"x-priority 3 is normal", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: s\nX-Priority: 3\n\nbody\n",
			nil, []string{"\\flagged", "Archive"}, true},
		{"attachment copied to Archive", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\nJVBERi0=\n--b--\n",
			[]string{"store message in folder: Archive"}, nil, true},
		{"sent only to me: flagged", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: Alice <alice@contoso.com>\nSubject: s\n\nbody\n",
			[]string{"\\flagged", "\\seen"}, nil, true},
		{"not only to me", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: alice@contoso.com, bob@contoso.com\nSubject: s\n\nbody\n",
			[]string{"\\seen"}, []string{"\\flagged"}, true},
		{"cc me into a non-ASCII folder", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: bob@contoso.com\nCc: alice.martin@contoso.com\nSubject: s\n\nbody\n",
			[]string{"store message in folder: Boîte de réception/Été \"2024\""}, nil, false},
		{"automatic reply to Trash, then stop", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: alice@contoso.com\nSubject: Automatic reply: s\nAuto-Submitted: auto-replied\n\nbody\n",
			[]string{"store message in folder: Trash"}, []string{"Archive"}, false},
		{"large message discarded", "conditions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: other@fabrikam.com\nSubject: s\n\n" + strings.Repeat("0123456789abcdef\n", 5*1024*1024/17+100),
			[]string{"discard"}, nil, false},
		{"redirect keeps a copy and stops", "actions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: alice@contoso.com\nSubject: all hands ticket\n\nbody\n",
			[]string{"redirect message to: <helpdesk@contoso.example>"}, []string{"a@contoso.example"}, true},
		{"move, read, flag", "actions", "boss@contoso.com",
			"From: boss@contoso.com\nTo: alice@contoso.com\nSubject: plan\n\nbody\n",
			[]string{"store message in folder: Projects", "\\seen", "\\flagged"}, nil, false},
		{"exception: lunch stays", "actions", "boss@contoso.com",
			"From: boss@contoso.com\nTo: alice@contoso.com\nSubject: lunch?\n\nbody\n",
			nil, []string{"Projects"}, true},
		{"copy and delete", "actions", "x@fabrikam.com",
			"From: x@fabrikam.com\nTo: alice@contoso.com\nSubject: s\n\nthis is Confidential\n",
			[]string{"store message in folder: Archive", "store message in folder: Trash"}, nil, false},
		{"out-of-office: outside sender gets the external text", "oof-scheduled-all", "client@fabrikam.com",
			"From: client@fabrikam.com\nTo: alice@contoso.com\nSubject: s\n\nbody\n",
			[]string{"send vacation message", "bascule-oof-external", "out of the office"}, nil, true},
		{"out-of-office: colleague gets the internal text", "oof-scheduled-all", "bob@contoso.com",
			"From: bob@contoso.com\nTo: alice@contoso.com\nSubject: s\n\nbody\n",
			[]string{"bascule-oof-internal", "I am away until July 15."}, []string{"out of the office"}, true},
		{"out-of-office, audience none: no reply outside", "oof-always-none", "client@fabrikam.com",
			"From: client@fabrikam.com\nTo: alice@contoso.com\nSubject: s\n\nbody\n",
			nil, []string{"vacation"}, true},
		{"out-of-office over: no reply", "oof-with-rules", "bob@contoso.com",
			"From: bob@contoso.com\nTo: alice@contoso.com\nSubject: s\n\nbody\n",
			[]string{"store message in folder: Archive"}, []string{"vacation"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			performed, keep := sieveTest(t, scripts[c.script], c.msg, c.from, me)
			all := performed + keep // flags may ride on the implicit keep
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("performed actions lack %q:\n%s%s", w, performed, keep)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(all, w) {
					t.Errorf("performed actions hold %q:\n%s%s", w, performed, keep)
				}
			}
			if got := strings.Contains(keep, "store message in folder: INBOX"); got != c.keep {
				t.Errorf("implicit keep into INBOX = %v, want %v:\n%s%s", got, c.keep, performed, keep)
			}
		})
	}
}
