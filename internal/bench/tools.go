package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Endpoint is an IMAP server the competitors log in to: plaintext on loopback, each account
// as "login*Master" (Dovecot master user).
type Endpoint struct {
	Host               string
	Port               string
	Master, MasterPass string
}

// MbsyncConfig writes an mbsync (isync 1.4) configuration into dir that pulls every folder
// of every account from src to dst, one channel per account, keeping arrival dates
// (CopyArrivalDate), creating folders on the target, expunging nothing. It returns the file.
func MbsyncConfig(dir string, src, dst Endpoint, logins []string) (string, error) {
	state := filepath.Join(dir, "mbsync-state") + "/"
	if err := os.MkdirAll(state, 0o700); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SyncState %s\n\n", state)
	for _, l := range logins {
		for _, side := range []struct {
			name string
			ep   Endpoint
		}{{"src", src}, {"dst", dst}} {
			fmt.Fprintf(&b, "IMAPAccount %s-%s\nHost %s\nPort %s\nUser %s*%s\nPass %s\nSSLType None\nAuthMechs LOGIN\n\n",
				side.name, l, side.ep.Host, side.ep.Port, l, side.ep.Master, side.ep.MasterPass)
			fmt.Fprintf(&b, "IMAPStore %s-%s\nAccount %s-%s\n\n", side.name, l, side.name, l)
		}
		fmt.Fprintf(&b, "Channel %s\nFar :src-%s:\nNear :dst-%s:\nPatterns *\nCreate Near\nSync Pull\nExpunge None\nRemove None\nCopyArrivalDate yes\n\n",
			l, l, l)
	}
	path := filepath.Join(dir, "mbsyncrc")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// MbsyncCommand runs every channel of a configuration (mbsync -a), one process.
func MbsyncCommand(ctx context.Context, config string) *exec.Cmd {
	return exec.CommandContext(ctx, "mbsync", "-c", config, "-a", "-q")
}

// ImapsyncCommand is one imapsync run for one account (imapsync copies one account per
// run), logging in as the master user through SASL PLAIN's authorization identity.
func ImapsyncCommand(ctx context.Context, bin string, src, dst Endpoint, login, tmp string) *exec.Cmd {
	return exec.CommandContext(ctx, bin,
		"--host1", src.Host, "--port1", src.Port, "--user1", login, "--authuser1", src.Master, "--password1", src.MasterPass,
		"--authmech1", "PLAIN", "--nossl1", "--notls1",
		"--host2", dst.Host, "--port2", dst.Port, "--user2", login, "--authuser2", dst.Master, "--password2", dst.MasterPass,
		"--authmech2", "PLAIN", "--nossl2", "--notls2",
		"--nolog", "--noreleasecheck", "--tmpdir", tmp)
}

// RunImapsync runs imapsync for every account, one after the other, and returns the total
// wall time and the largest peak RSS.
func RunImapsync(ctx context.Context, bin string, src, dst Endpoint, logins []string, tmp string) (time.Duration, int64, error) {
	var total time.Duration
	var peak int64
	for _, l := range logins {
		wall, rss, out, err := RunChild(ImapsyncCommand(ctx, bin, src, dst, l, tmp))
		total += wall
		peak = max(peak, rss)
		if err != nil {
			return total, peak, fmt.Errorf("imapsync %s: %v\n%s", l, err, CommandOutputTail(out, 2000))
		}
	}
	return total, peak, nil
}

// Have reports whether a program is on PATH.
func Have(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
