package imap

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/extract/imap/imaptest"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/model"
)

// server is a real IMAP server seeded with a generated corpus, and what the test knows it
// holds (kept up to date by the mutators).
type server struct {
	addr string
	dir  string // Dovecot's directory (configuration, logs)
	// loginAs returns the login name and password that act as user.
	loginAs func(user string) (string, string)
	// folderName maps a corpus folder ("/" separated) to the server's name.
	folderName func(string) string
	delim      string
	// special are the server's own folders with a role, by name.
	special map[string]string
	// expire changes the UIDVALIDITY of every folder of every user (nil: not possible).
	expire func(t testing.TB)

	mu    sync.Mutex
	users []string
	msgs  map[string]map[string]imaptest.Seeded // user → id → message
	extra map[string][]string                   // user → folder names created
	n     int
}

func startDovecot(t testing.TB, users ...string) *server {
	d := testenv.Dovecot(t, users...)
	var names []string
	for _, u := range users {
		n, _, _ := strings.Cut(u, ":")
		names = append(names, n)
	}
	s := &server{addr: d.Addr, dir: d.Dir, delim: "/", users: names,
		loginAs:    func(u string) (string, string) { return u + "*" + d.MasterUser, d.MasterPass },
		folderName: func(f string) string { return f },
		special: map[string]string{"Drafts": model.WellKnownDrafts, "Sent": model.WellKnownSentItems,
			"Trash": model.WellKnownDeletedItems, "Junk": model.WellKnownJunkEmail}}
	s.expire = func(t testing.TB) {
		for _, u := range s.users {
			for _, f := range append([]string{"INBOX", "Drafts", "Sent", "Trash", "Junk"}, s.extra[u]...) {
				out, err := exec.Command("doveadm", "-c", d.Dir+"/etc/dovecot.conf", "mailbox", "update", "-u", u,
					"--uid-validity", fmt.Sprint(time.Now().Unix()%1000000+int64(len(f))), f).CombinedOutput()
				if err != nil && !strings.Contains(string(out), "doesn't exist") {
					t.Fatalf("doveadm mailbox update %s %s: %v\n%s", u, f, err, out)
				}
			}
		}
	}
	return s
}

func (s *server) client(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	l, pw := s.loginAs(user)
	c, err := imaptest.Dial(s.addr, l, pw)
	if err != nil {
		t.Fatalf("imaptest.Dial(%s) = %v", user, err)
	}
	return c
}

// seed fills every user with a corpus of n messages (different per user).
func (s *server) seed(t testing.TB, n int) {
	t.Helper()
	s.msgs = map[string]map[string]imaptest.Seeded{}
	s.extra = map[string][]string{}
	for i, u := range s.users {
		c := s.client(t, u)
		msgs := imaptest.Generate(imaptest.Options{Messages: n - 3*i, Seed: uint64(i + 1)})
		// The busiest folder is not INBOX, so that sourcetest adds its new message to INBOX
		// (the folder after INBOX is a \Noselect parent).
		for k, m := range imaptest.Generate(imaptest.Options{Messages: 4, Seed: uint64(100 + i), Folders: []string{}}) {
			m.Folder = "日本語"
			m.Body = imaptest.Body(500+k, uint64(100+i), 2000, m.Date)
			msgs = append(msgs, m)
		}
		for j := range msgs {
			msgs[j].Folder = s.folderName(msgs[j].Folder)
		}
		seeded, err := imaptest.Seed(c, msgs)
		if err != nil {
			t.Fatalf("seeding %s: %v", u, err)
		}
		c.Logout().Wait()
		s.msgs[u] = map[string]imaptest.Seeded{}
		for _, m := range seeded {
			s.msgs[u][msgID(m.UIDValidity, m.UID, m.Folder)] = m
		}
		for _, f := range imaptest.Folders {
			if name := s.folderName(f); !slices.Contains(s.extra[u], name) && s.special[name] == "" {
				s.extra[u] = append(s.extra[u], name)
			}
		}
	}
}

func hasFlag(fs []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(fs, func(x imap.Flag) bool { return strings.EqualFold(string(x), string(f)) })
}

// flagsOf is what the test appended, as the model holds it: system flags, and keywords
// sorted and space-separated (written here independently of modelFlags).
func flagsOf(fs []imap.Flag) model.Flags {
	var kw []string
	for _, f := range fs {
		if !strings.HasPrefix(string(f), "\\") && !slices.Contains(kw, string(f)) {
			kw = append(kw, string(f))
		}
	}
	sort.Strings(kw)
	return model.Flags{Seen: hasFlag(fs, imap.FlagSeen), Flagged: hasFlag(fs, imap.FlagFlagged),
		Answered: hasFlag(fs, imap.FlagAnswered), Draft: hasFlag(fs, imap.FlagDraft), Keywords: strings.Join(kw, " ")}
}

// truth is what the test knows the server holds.
func (s *server) truth(t testing.TB) sourcetest.Truth {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tr sourcetest.Truth
	for _, u := range s.users {
		mt := sourcetest.MailboxTruth{Mailbox: model.Mailbox{ID: u, Address: u}}
		names := map[string]bool{"INBOX": true}
		for n := range s.special {
			names[n] = true
		}
		for _, f := range s.extra[u] {
			parts := strings.Split(f, s.delim)
			for k := 1; k <= len(parts); k++ {
				names[strings.Join(parts[:k], s.delim)] = true
			}
		}
		for n := range names {
			f := model.Folder{ID: n, Path: strings.Split(n, s.delim), WellKnown: s.special[n]}
			if n == "INBOX" {
				f.WellKnown = model.WellKnownInbox
			}
			if len(f.Path) > 1 {
				f.ParentID = strings.Join(f.Path[:len(f.Path)-1], s.delim)
			}
			mt.Folders = append(mt.Folders, f)
		}
		for id, m := range s.msgs[u] {
			mt.Messages = append(mt.Messages, sourcetest.MessageTruth{ID: id, FolderID: m.Folder, SHA256: m.SHA256, Size: m.Size, Flags: flagsOf(m.Flags)})
		}
		tr.Mailboxes = append(tr.Mailboxes, mt)
	}
	return tr
}

func (s *server) harness(src *Source) sourcetest.Harness {
	return sourcetest.Harness{
		Source: src,
		Truth:  s.truth,
		SetRead: func(t testing.TB, mbx model.Mailbox, id string, read bool) {
			c := s.client(t, mbx.Address)
			defer c.Close()
			_, uid, folder, _ := parseMsgID(id)
			if _, err := c.Select(folder, nil).Wait(); err != nil {
				t.Fatalf("SELECT %s = %v", folder, err)
			}
			op := imap.StoreFlagsAdd
			if !read {
				op = imap.StoreFlagsDel
			}
			if err := c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
				t.Fatalf("UID STORE = %v", err)
			}
			s.mu.Lock()
			m := s.msgs[mbx.Address][id]
			m.Flags = slices.DeleteFunc(slices.Clone(m.Flags), func(f imap.Flag) bool { return f == imap.FlagSeen })
			if read {
				m.Flags = append(m.Flags, imap.FlagSeen)
			}
			s.msgs[mbx.Address][id] = m
			s.mu.Unlock()
		},
		Add: func(t testing.TB, mbx model.Mailbox, folderID string) string {
			c := s.client(t, mbx.Address)
			defer c.Close()
			s.mu.Lock()
			s.n++
			n := s.n
			s.mu.Unlock()
			date := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 7200))
			m, err := imaptest.Append(c, imaptest.Message{Folder: folderID, Body: imaptest.Body(1000+n, 99, 3000, date),
				Flags: []imap.Flag{imap.FlagFlagged, "$Label2"}, Date: date})
			if err != nil {
				t.Fatalf("APPEND = %v", err)
			}
			id := msgID(m.UIDValidity, m.UID, m.Folder)
			s.mu.Lock()
			s.msgs[mbx.Address][id] = m
			s.mu.Unlock()
			return id
		},
		Delete: func(t testing.TB, mbx model.Mailbox, id string) {
			c := s.client(t, mbx.Address)
			defer c.Close()
			expunge(t, c, id)
			s.mu.Lock()
			delete(s.msgs[mbx.Address], id)
			s.mu.Unlock()
		},
		ExpireCursors: func(t testing.TB) {
			s.expire(t)
		},
		Timeout: 3 * time.Minute,
	}
}

// expunge removes one message by id with a client of its own.
func expunge(t testing.TB, c *imapclient.Client, id string) {
	t.Helper()
	_, uid, folder, _ := parseMsgID(id)
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatalf("SELECT %s = %v", folder, err)
	}
	set := imap.UIDSetNum(imap.UID(uid))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("UID STORE +FLAGS \\Deleted = %v", err)
	}
	if err := c.UIDExpunge(set).Close(); err != nil {
		t.Fatalf("UID EXPUNGE = %v", err)
	}
}

func (s *server) source(t testing.TB, cfg Config) *Source {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = s.addr
	}
	if cfg.TLS == "" {
		cfg.TLS = "none"
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func dovecotConfig(d *server) Config {
	l, pw := d.loginAs("x")
	admin := strings.TrimPrefix(l, "x*")
	return Config{Auth: AuthMaster, AdminUser: admin, AdminPassword: pw, Mailboxes: d.users}
}

// TestConformanceDovecot: the source conformance suite against a real Dovecot with
// CONDSTORE: nested non-ASCII folders, \Noselect parents, keywords, every system flag.
func TestConformanceDovecot(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 30)
	src := d.source(t, dovecotConfig(d))
	if os.Getenv("IMAP_DEBUG") != "" {
		src.debug = os.Stderr
	}
	sourcetest.Run(t, d.harness(src))
	if st := src.Stats(); st.Searches == 0 || st.Statuses == 0 {
		t.Errorf("Stats() = %+v: no STATUS or SEARCH counted", st)
	}
}

// TestConformanceDovecotNoCondStore: the same suite with CONDSTORE ignored: deltas by UID
// sets and flag digests.
func TestConformanceDovecotNoCondStore(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 24)
	cfg := dovecotConfig(d)
	cfg.NoCondStore = true
	cfg.Connections, cfg.Pipeline, cfg.Batch = 2, 3, 7 // many batches, shared connections
	sourcetest.Run(t, d.harness(cfg.source(t, d)))
}

func (cfg Config) source(t testing.TB, d *server) *Source { return d.source(t, cfg) }

// TestConformanceDovecotPlain: the suite again with every extension the source can use
// ignored — CONDSTORE, ESEARCH, NAMESPACE, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE — as on
// Exchange's IMAP: plain SEARCH answers, flag digests, roles from LIST attributes.
func TestConformanceDovecotPlain(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 16)
	src := d.source(t, dovecotConfig(d))
	src.without = map[imap.Cap]bool{imap.CapCondStore: true, imap.CapESearch: true, imap.CapNamespace: true, imap.CapListExtended: true,
		imap.CapListStatus: true, imap.CapSpecialUse: true, imap.CapIMAP4rev2: true}
	sourcetest.Run(t, d.harness(src))
}
