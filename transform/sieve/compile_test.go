package sieve

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The real compilers: Dovecot Pigeonhole's sievec (Debian dovecot-sieve) and Cyrus's
// (cyrus-common). Each runs standalone on a minimal configuration, so the extensions checked
// are the servers' defaults, as the test servers run them.
const (
	pigeonholeSievec = "/usr/bin/sievec"
	cyrusSievec      = "/usr/lib/cyrus/bin/sievec"
)

// missing skips a test whose tool is not installed, or fails it when
// BASCULE_REQUIRE_SERVERS=1 (CI), as internal/testenv does for servers.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("\n*** TOOL MISSING: %s is not installed: this test against a real Sieve compiler DID NOT RUN ***\n", what)
	if os.Getenv("BASCULE_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg + "(BASCULE_REQUIRE_SERVERS=1: failing instead of skipping)")
	}
	t.Skip(msg)
}

var (
	confOnce sync.Once
	confDir  string
	confErr  error
)

// configs writes the minimal configurations once per test binary.
func configs() (string, error) {
	confOnce.Do(func() {
		confDir, confErr = os.MkdirTemp("", "sievec")
		if confErr != nil {
			return
		}
		if confErr = os.WriteFile(filepath.Join(confDir, "dovecot.conf"), []byte("# minimal: Pigeonhole's default extensions\n"), 0o644); confErr != nil {
			return
		}
		confErr = os.MkdirAll(filepath.Join(confDir, "cyrus"), 0o755)
		if confErr == nil {
			confErr = os.WriteFile(filepath.Join(confDir, "imapd.conf"), []byte("configdirectory: "+filepath.Join(confDir, "cyrus")+"\n"), 0o644)
		}
	})
	return confDir, confErr
}

// compileAll compiles script with every installed compiler; it fails the test with the
// compiler's message when one refuses it, and skips (or fails in CI) when none is there.
func compileAll(t testing.TB, name string, script []byte) {
	t.Helper()
	if err := compileWith(pigeonholeSievec, name, script); err != nil {
		if err == errMissing {
			missing(t, "sievec (apt-get install dovecot-sieve)")
		}
		t.Errorf("Pigeonhole sievec refused %s: %v\n%s", name, err, numbered(script))
	}
	if err := compileWith(cyrusSievec, name, script); err != nil {
		if err == errMissing {
			missing(t, "Cyrus sievec (apt-get install cyrus-common)")
		}
		t.Errorf("Cyrus sievec refused %s: %v\n%s", name, err, numbered(script))
	}
}

var errMissing = fmt.Errorf("compiler not installed")

func compileWith(tool, name string, script []byte) error {
	if _, err := os.Stat(tool); err != nil {
		return errMissing
	}
	dir, err := configs()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(dir, "c")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "script.sieve")
	if err := os.WriteFile(src, script, 0o644); err != nil {
		return err
	}
	var cmd *exec.Cmd
	if tool == cyrusSievec {
		cmd = exec.Command(tool, "-C", filepath.Join(dir, "imapd.conf"), src, filepath.Join(work, "script.bc"))
	} else {
		cmd = exec.Command(tool, "-c", filepath.Join(dir, "dovecot.conf"), src, filepath.Join(work, "script.svbin"))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func numbered(b []byte) string {
	var s strings.Builder
	for i, l := range strings.Split(string(b), "\n") {
		fmt.Fprintf(&s, "%3d %s\n", i+1, l)
	}
	return s.String()
}

// TestCompilersRefuseBadScripts proves the compile check can fail: each compiler refuses an
// unknown extension and a Pigeonhole-only one is refused by Cyrus.
func TestCompilersRefuseBadScripts(t *testing.T) {
	bad := []byte("require \"no-such-extension\";\nkeep;\n")
	for _, tool := range []string{pigeonholeSievec, cyrusSievec} {
		err := compileWith(tool, "bad", bad)
		if err == errMissing {
			missing(t, tool)
		}
		if err == nil {
			t.Errorf("%s accepted an unknown extension", tool)
		}
	}
	if err := compileWith(cyrusSievec, "mime", []byte("require \"mime\";\nif header :mime :anychild :contains \"content-disposition\" \"attachment\" { keep; }\n")); err == nil {
		t.Errorf("Cyrus accepted the mime extension: the hasAttachments heuristic could use it")
	}
}
