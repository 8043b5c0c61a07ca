package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/extract/imap/imaptest"
	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/internal/testenv"
)

// imapEnv is a source Dovecot seeded with a generated corpus and a fresh target Dovecot.
type imapEnv struct {
	t        *testing.T
	src, dst *testenv.DovecotServer
	users    []string
	state    string
}

func newIMAPEnv(t *testing.T, perUser int, maxSize int) *imapEnv {
	t.Helper()
	users := []string{"alice", "bob"}
	e := &imapEnv{t: t, src: testenv.Dovecot(t, users...), dst: testenv.Dovecot(t, users...), users: users,
		state: filepath.Join(t.TempDir(), "state.db")}
	for i, u := range users {
		c, err := imaptest.Dial(e.src.Addr, u+"*"+e.src.MasterUser, e.src.MasterPass)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := imaptest.Seed(c, imaptest.Generate(imaptest.Options{Messages: perUser, Seed: uint64(10 + i), MaxSize: maxSize})); err != nil {
			t.Fatalf("seeding %s: %v", u, err)
		}
		c.Logout().Wait()
	}
	return e
}

func (e *imapEnv) args(extra ...string) []string {
	a := []string{"migrate", "--source", "imap", "--imap-source-addr", e.src.Addr, "--imap-source-tls", "none",
		"--imap-source-auth", "master", "--imap-source-admin-user", e.src.MasterUser,
		"--state", e.state, "--imap-addr", e.dst.Addr, "--imap-tls", "none", "--imap-auth", "master",
		"--imap-admin-user", e.dst.MasterUser, "--no-progress", "--log-level", "warn"}
	for _, u := range e.users {
		a = append(a, "--mailbox", u)
	}
	return append(a, extra...)
}

func (e *imapEnv) command(ctx context.Context, args ...string) *runner {
	return &runner{env: &env{t: e.t}, ctx: ctx, args: args,
		extraEnv: []string{"BASCULE_IMAP_SOURCE_PASSWORD=" + e.src.MasterPass, "BASCULE_IMAP_ADMIN_PASSWORD=" + e.dst.MasterPass}}
}

// runner runs the binary with extra environment.
type runner struct {
	env      *env
	ctx      context.Context
	args     []string
	extraEnv []string
}

func (r *runner) run() runResult {
	cmd := r.env.command(r.ctx, r.args...)
	cmd.Env = append(cmd.Env, r.extraEnv...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		} else {
			r.env.t.Fatalf("running bascule: %v", err)
		}
	}
	return runResult{code: code, stdout: so.String(), stderr: se.String()}
}

func (e *imapEnv) migrate(extra ...string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := e.command(ctx, e.args(extra...)...).run()
	if r.code != 0 {
		e.t.Fatalf("bascule migrate --source imap exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 4000))
	}
	return r
}

func snapshotOf(t *testing.T, d *testenv.DovecotServer, user string) *imapcheck.Snapshot {
	t.Helper()
	c, err := imapcheck.Dial(d.Addr, user+"*"+d.MasterUser, d.MasterPass)
	if err != nil {
		t.Fatalf("reading %s: %v", user, err)
	}
	defer c.Close()
	s, err := imapcheck.Take(c)
	if err != nil {
		t.Fatalf("reading %s: %v", user, err)
	}
	return s
}

// key is what must survive the copy: the bytes, every flag and keyword (but the session's
// \Recent), the INTERNALDATE.
func key(m imapcheck.Message) string {
	var fl []string
	for _, f := range m.Flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			fl = append(fl, strings.ToLower(string(f)))
		}
	}
	slices.Sort(fl)
	return fmt.Sprintf("%s %d %s %d", m.SHA256, m.Size, strings.Join(fl, ","), m.InternalDate.Unix())
}

// same asserts that every account of the target holds exactly what the source holds: in
// each folder of the same name the same messages (bytes, system flags, INTERNALDATE), none
// missing, none twice, nothing else. It returns the number of messages compared.
func (e *imapEnv) same() int {
	e.t.Helper()
	total := 0
	for _, u := range e.users {
		src, dst := snapshotOf(e.t, e.src, u), snapshotOf(e.t, e.dst, u)
		want := map[string][]string{}
		for _, f := range src.Folders {
			for _, m := range f.Messages {
				want[f.Name] = append(want[f.Name], key(m))
			}
		}
		got := map[string][]string{}
		for _, f := range dst.Folders {
			for _, m := range f.Messages {
				got[f.Name] = append(got[f.Name], key(m))
			}
		}
		for name, w := range want {
			g := got[name]
			slices.Sort(w)
			slices.Sort(g)
			if !slices.Equal(w, g) {
				e.t.Errorf("%s folder %q: target holds %d messages, source %d, or they differ (bytes, flags or date)\nsource: %v\ntarget: %v",
					u, name, len(g), len(w), w, g)
			}
			total += len(w)
		}
		for name, g := range got {
			if _, ok := want[name]; !ok && len(g) > 0 {
				e.t.Errorf("%s: target folder %q holds %d messages the source has nowhere", u, name, len(g))
			}
		}
	}
	if total == 0 {
		e.t.Fatal("the source holds no message: the comparison proves nothing")
	}
	return total
}

var bodyCount = regexp.MustCompile(`body_count=(\d+)`)

// bodiesServed sums body_count over the source Dovecot's session ends logged after offset;
// it returns the log's new length.
func (e *imapEnv) bodiesServed(offset int) (int, int) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.src.Dir, "log", "dovecot.log"))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, m := range bodyCount.FindAllSubmatch(b[offset:], -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n, len(b)
}

// waitSessionsLogged gives Dovecot a moment to log the ends of the sessions just closed.
func waitSessionsLogged() { time.Sleep(300 * time.Millisecond) }

// TestIMAPSourceCopy: the binary copies a source Dovecot to a fresh target Dovecot byte for
// byte, with flags and INTERNALDATE, nested non-ASCII folders; a rerun with nothing new
// fetches no body from the source.
func TestIMAPSourceCopy(t *testing.T) {
	e := newIMAPEnv(t, 120, 300<<10)
	e.migrate()
	n := e.same()
	t.Logf("%d messages copied and compared", n)

	waitSessionsLogged()
	_, off := e.bodiesServed(0)
	r := e.migrate("--output", "json")
	waitSessionsLogged()
	if bodies, _ := e.bodiesServed(off); bodies != 0 {
		t.Errorf("a rerun with nothing new fetched %d bodies from the source", bodies)
	}
	tot := jsonResult(t, r.stdout)["totals"].(map[string]any)
	if tot["written"].(float64) != 0 {
		t.Errorf("a rerun with nothing new wrote %v messages", tot["written"])
	}
	e.same()
}

// TestIMAPSourceKillResume kills the binary with SIGKILL at random points of its progress
// (counted in message files on the target), reruns, and checks that the target ends with
// exactly the source's messages, none twice.
func TestIMAPSourceKillResume(t *testing.T) {
	const perUser = 500
	e := newIMAPEnv(t, perUser, 400<<10)
	total := perUser * len(e.users)
	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for i := 0; i < 8; i++ {
		have := maildirFiles(e.dst.Dir)
		if have >= total {
			break
		}
		threshold := have + 1 + rng.IntN(max(1, (total-have)/4))
		ctx, cancel := context.WithCancel(context.Background())
		cmd := (&env{t: t}).command(ctx, e.args()...)
		cmd.Env = append(cmd.Env, "BASCULE_IMAP_SOURCE_PASSWORD="+e.src.MasterPass, "BASCULE_IMAP_ADMIN_PASSWORD="+e.dst.MasterPass)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		tick := time.NewTicker(2 * time.Millisecond)
	wait:
		for {
			select {
			case <-tick.C:
				if maildirFiles(e.dst.Dir) >= threshold {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					<-done
					kills++
					break wait
				}
			case <-done:
				t.Logf("run %d finished before its kill point", i)
				break wait
			}
		}
		tick.Stop()
		cancel()
	}
	if kills < 3 {
		t.Fatalf("only %d kills happened before the run completed; the test needs at least 3", kills)
	}
	t.Logf("%d kill -9 points", kills)
	e.migrate()
	e.same()
}

// maildirFiles counts the message files of a Dovecot (its Maildirs' cur and new).
func maildirFiles(dir string) int {
	n := 0
	filepath.WalkDir(filepath.Join(dir, "mail"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if p := filepath.Base(filepath.Dir(path)); p == "cur" || p == "new" {
				n++
			}
		}
		return nil
	})
	return n
}

// TestIMAPSourceDelta: after a first copy the source changes (new messages, flags set and
// cleared, messages expunged); a rerun with --deletes mirror makes the target equal again.
func TestIMAPSourceDelta(t *testing.T) {
	e := newIMAPEnv(t, 60, 100<<10)
	e.migrate()
	e.same()

	c, err := imaptest.Dial(e.src.Addr, "alice*"+e.src.MasterUser, e.src.MasterPass)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range imaptest.Generate(imaptest.Options{Messages: 5, Seed: 77}) {
		m.Folder = []string{"INBOX", "Boîte/Projets/Été"}[i%2]
		if _, err := imaptest.Append(c, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	flip := func(op imap.StoreFlagsOp, uids imap.UIDSet, f imap.Flag) {
		if err := c.Store(uids, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{f}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	flip(imap.StoreFlagsAdd, imap.UIDSetNum(1, 2, 3), imap.FlagFlagged)
	flip(imap.StoreFlagsDel, imap.UIDSetNum(1, 2, 3, 4), imap.FlagSeen)
	flip(imap.StoreFlagsAdd, imap.UIDSetNum(7, 8), "$Client_Dupont")
	flip(imap.StoreFlagsAdd, imap.UIDSetNum(9), "$Forwarded")
	flip(imap.StoreFlagsDel, imap.UIDSetNum(7, 8, 9, 10, 11, 12), "$Label1")
	flip(imap.StoreFlagsAdd, imap.UIDSetNum(5, 6), imap.FlagDeleted)
	if err := c.UIDExpunge(imap.UIDSetNum(5, 6)).Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()

	waitSessionsLogged()
	_, off := e.bodiesServed(0)
	r := e.migrate("--deletes", "mirror", "--output", "json")
	waitSessionsLogged()
	if bodies, _ := e.bodiesServed(off); bodies != 5 {
		t.Errorf("the delta fetched %d bodies from the source, want the 5 new ones", bodies)
	}
	tot := jsonResult(t, r.stdout)["totals"].(map[string]any)
	if tot["written"].(float64) != 5 || tot["deleted"].(float64) != 2 {
		t.Errorf("delta totals = %v, want written 5, deleted 2", tot)
	}
	e.same()
}

// TestIMAPSourceUIDValidity: a source folder whose UIDVALIDITY changes (doveadm, as after an
// index rebuild) is listed again in full; with --deletes mirror the target ends equal to the
// source, nothing twice.
func TestIMAPSourceUIDValidity(t *testing.T) {
	e := newIMAPEnv(t, 30, 50<<10)
	e.migrate()
	e.same()
	out, err := exec.Command("doveadm", "-c", filepath.Join(e.src.Dir, "etc", "dovecot.conf"), "mailbox", "update",
		"-u", "alice", "--uid-validity", "4242", "INBOX").CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm mailbox update: %v\n%s", err, out)
	}
	r := e.migrate("--deletes", "mirror", "--output", "json")
	tot := jsonResult(t, r.stdout)["totals"].(map[string]any)
	if tot["written"].(float64) == 0 || tot["written"] != tot["deleted"] {
		t.Errorf("totals after a UIDVALIDITY change = %v, want INBOX written again and its old copies deleted", tot)
	}
	e.same()
}
