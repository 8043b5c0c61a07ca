// Package testenv starts the real servers the tests use (Dovecot today), on loopback, through
// the project's own scripts. A test that needs a server that is not installed is skipped with
// a loud message — unless BASCULE_REQUIRE_SERVERS=1 (CI), where it fails.
package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// DovecotServer is a running Dovecot.
type DovecotServer struct {
	Addr      string // IMAP, host:port (plaintext, loopback)
	SieveAddr string // ManageSieve, host:port
	SievePort int    // ManageSieve port on 127.0.0.1
	// LMTPAddr is Dovecot's LMTP service, host:port ("" when dovecot-lmtpd is not
	// installed): delivery runs the recipient's active Sieve script. See Deliver and Sent.
	LMTPAddr   string
	MasterUser string // log in as "login*MasterUser" with MasterPass
	MasterPass string
	Users      map[string]string // login → password
	Dir        string
}

// Dovecot starts a private Dovecot with the given logins, stopped when the test ends. A login
// is "name" (password "pw-name") or "name:password"; names may hold '@'. With no logins the
// accounts are alice and bob. DOVECOT_MAX_MAIL_SIZE in the environment is passed to the
// script. When Dovecot is not installed the test is skipped loudly, or fails when
// BASCULE_REQUIRE_SERVERS=1 (CI).
func Dovecot(t testing.TB, logins ...string) *DovecotServer {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/dovecot"); err != nil {
		missing(t, "dovecot (apt-get install dovecot-imapd dovecot-managesieved dovecot-sieve)")
	}
	if len(logins) == 0 {
		logins = []string{"alice", "bob"}
	}
	// Short base paths: Dovecot uses unix sockets (108-byte limit).
	dir, err := os.MkdirTemp(fastTempDir(), "dv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &DovecotServer{MasterUser: "bascule-admin", MasterPass: "master-" + filepath.Base(dir), Users: map[string]string{}, Dir: dir}
	var users []string
	for _, l := range logins {
		login, pw, ok := strings.Cut(l, ":")
		if !ok {
			pw = "pw-" + login
		}
		d.Users[login] = pw
		users = append(users, login+":"+pw)
	}
	imapPort, sievePort, lmtpPort := freePort(t), freePort(t), 0
	if lmtpInstalled() {
		lmtpPort = freePort(t)
	}
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "dovecot.sh"), "start", dir, fmt.Sprint(imapPort), fmt.Sprint(sievePort), fmt.Sprint(lmtpPort))
	cmd.Env = append(os.Environ(), "DOVECOT_USERS="+strings.Join(users, " "),
		"DOVECOT_MASTER_USER="+d.MasterUser, "DOVECOT_MASTER_PASS="+d.MasterPass)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("scripts/dovecot.sh start: %v\n%s%s", err, out, stderr.String())
	}
	if !strings.HasPrefix(string(out), "READY dovecot") {
		t.Fatalf("scripts/dovecot.sh start printed %q", out)
	}
	d.Addr = fmt.Sprintf("127.0.0.1:%d", imapPort)
	d.SieveAddr = fmt.Sprintf("127.0.0.1:%d", sievePort)
	d.SievePort = sievePort
	if lmtpPort != 0 {
		d.LMTPAddr = fmt.Sprintf("127.0.0.1:%d", lmtpPort)
	}
	t.Logf("dovecot started: imap=%s dir=%s", d.Addr, dir)
	t.Cleanup(func() {
		if out, err := exec.Command(filepath.Join(repoRoot(), "scripts", "dovecot.sh"), "stop", dir).CombinedOutput(); err != nil {
			t.Logf("scripts/dovecot.sh stop: %v\n%s", err, out)
		}
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "log", "dovecot.log")); err == nil {
				t.Logf("dovecot log (tail):\n%s", tailLines(string(log), 30))
			}
		}
		os.RemoveAll(dir)
	})
	return d
}

// missing skips (or, in CI, fails) a test whose server is not installed.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("\n*** SERVER MISSING: %s is not installed: this test against a real server DID NOT RUN ***\n", what)
	if os.Getenv("BASCULE_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg + "(BASCULE_REQUIRE_SERVERS=1: failing instead of skipping)")
	}
	t.Skip(msg)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// repoRoot finds the module root (the directory holding go.mod and scripts/) upwards from
// the test's working directory, which `go test` sets to the package's directory; it falls
// back to this source file's location.
func repoRoot() string {
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "scripts", "dovecot.sh")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
					return dir
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

func tailLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fastTempDir is /dev/shm when it is usable: the test servers' disk I/O then costs nothing,
// so tests and benchmarks measure Bascule and the server, not the machine's disk.
func fastTempDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}
