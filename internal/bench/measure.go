package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Result is one measured run.
type Result struct {
	Tool string // "raw APPEND", "bascule", "mbsync", "imapsync"
	Pass string // "first", "no-op"
	Wall time.Duration
	// Messages and Bytes are the corpus's (what had to be copied).
	Messages int
	Bytes    int64
	// PeakRSS in bytes; RSSHow says how it was measured.
	PeakRSS int64
	RSSHow  string
	// CPU is the user+system time of the measured process (children: from rusage).
	CPU   time.Duration
	Exact *Exactness
	Note  string
	// Skipped says why the tool did not run ("" = it ran).
	Skipped string
}

// MsgsPerSec is the throughput in messages per second.
func (r Result) MsgsPerSec() float64 { return float64(r.Messages) / r.Wall.Seconds() }

// MBPerSec is the throughput in MB (10^6 bytes) per second.
func (r Result) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Wall.Seconds() }

// RunChild runs cmd to its end and returns its wall time and peak RSS (wait4's rusage
// Maxrss of the child, the largest resident set of the process tree waited for).
func RunChild(cmd *exec.Cmd) (wall time.Duration, peak int64, out string, err error) {
	wall, peak, _, out, err = RunChildCPU(cmd)
	return wall, peak, out, err
}

// RunChildCPU is RunChild that also returns the child's CPU time (user + system).
func RunChildCPU(cmd *exec.Cmd) (wall time.Duration, peak int64, cpu time.Duration, out string, err error) {
	var buf bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &buf
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &buf
	}
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = ru.Maxrss * 1024
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return wall, peak, cpu, buf.String(), err
}

// ResetPeakRSS resets this process's peak resident set (VmHWM) to its current RSS, so that
// PeakRSS then measures an in-process run (Linux: /proc/self/clear_refs, value 5).
func ResetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// PeakRSS is this process's VmHWM in bytes (0 if unknown).
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// Timed runs fn in process and measures its wall time and peak RSS (VmHWM after a reset:
// the whole process's, so it includes what the process held before).
func Timed(ctx context.Context, fn func(context.Context) error) (time.Duration, int64, error) {
	_ = ResetPeakRSS()
	start := time.Now()
	err := fn(ctx)
	return time.Since(start), PeakRSS(), err
}

// PrintTable writes results as an aligned table, then the ratios of the first "bascule"
// result of each pass to the others.
func PrintTable(w io.Writer, title string, results []Result) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\tpass\twall\tmsgs/s\tMB/s\tCPU\tpeak RSS\texactness\tnote")
	for _, r := range results {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t—\t—\t—\t—\t—\t—\t%s\n", r.Tool, r.Pass, r.Skipped)
			continue
		}
		ex := "not checked"
		if r.Exact != nil {
			ex = r.Exact.String()
		}
		rss := "—"
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.PeakRSS)/(1<<20))
			if r.RSSHow != "" {
				rss += " (" + r.RSSHow + ")"
			}
		}
		cpu := "—"
		if r.CPU > 0 {
			cpu = fmt.Sprintf("%.2f s", r.CPU.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\n", r.Tool, r.Pass, r.Wall.Seconds(),
			r.MsgsPerSec(), r.MBPerSec(), cpu, rss, ex, r.Note)
	}
	tw.Flush()
	for _, pass := range []string{"first", "no-op"} {
		var b *Result
		for i := range results {
			if results[i].Tool == "bascule" && results[i].Pass == pass && results[i].Skipped == "" {
				b = &results[i]
				break
			}
		}
		if b == nil {
			continue
		}
		for _, r := range results {
			if r.Pass != pass || strings.HasPrefix(r.Tool, "bascule") || r.Tool == "raw variant" || r.Skipped != "" {
				continue
			}
			if r.Tool == "raw APPEND" {
				fmt.Fprintf(w, "ratio (%s): bascule reaches %.0f%% of the raw APPEND ceiling (wall %.2f s vs %.2f s)\n",
					pass, 100*r.Wall.Seconds()/b.Wall.Seconds(), b.Wall.Seconds(), r.Wall.Seconds())
				continue
			}
			fmt.Fprintf(w, "ratio (%s): bascule wall time = %.2f × %s's (%.2f s vs %.2f s)\n",
				pass, b.Wall.Seconds()/r.Wall.Seconds(), r.Tool, b.Wall.Seconds(), r.Wall.Seconds())
		}
	}
}

// CommandOutputTail is the end of a command's output, for error messages.
func CommandOutputTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// WithContext makes an exec.Cmd bound to ctx.
func WithContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

// Best merges the results of several rounds: per tool, pass and note, the fastest run (its
// CPU time with it), the largest peak RSS of any round, and the first round's exactness.
func Best(results []Result) []Result {
	var out []Result
	idx := map[string]int{}
	for _, r := range results {
		k := r.Tool + "\x00" + r.Pass + "\x00" + r.Note
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, r)
			continue
		}
		b := &out[i]
		if r.Skipped == "" && r.Wall < b.Wall {
			b.Wall, b.CPU = r.Wall, r.CPU
		}
		b.PeakRSS = max(b.PeakRSS, r.PeakRSS)
		if b.Exact == nil {
			b.Exact = r.Exact
		}
	}
	return out
}
