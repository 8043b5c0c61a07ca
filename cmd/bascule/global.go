package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"golang.org/x/term"
)

// GlobalOptions are the flags every command shares.
type GlobalOptions struct {
	StatePath  string
	ConfigFile string
	LogLevel   string
	LogFormat  string
	Output     string
	NoProgress bool
	// MetricsAddr serves Prometheus metrics at http://MetricsAddr/metrics during a run;
	// MetricsLinger keeps serving them that long after it.
	MetricsAddr   string
	MetricsLinger time.Duration

	logger  *slog.Logger
	metrics *metrics
}

// AddFlags registers the global flags.
func (g *GlobalOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.StatePath, "state", "bascule.db", "state store that records progress; keep it between runs: a SQLite file, or a PostgreSQL DSN postgres://user@host/db (a fleet's shared store; password in PGPASSWORD or ~/.pgpass)")
	f.StringVar(&g.ConfigFile, "config", "", "YAML config file whose keys are flag names (flags and BASCULE_* environment variables win)")
	f.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	f.StringVarP(&g.Output, "output", "o", "text", "result format: text or json")
	f.BoolVar(&g.NoProgress, "no-progress", false, "no progress bars even on a terminal")
	f.StringVar(&g.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics during the run (e.g. :9090; see docs/FLEET.md)")
	f.DurationVar(&g.MetricsLinger, "metrics-linger", 0, "keep serving the metrics this long after the run ends, so that the last values are scraped")
}

// load fills every flag not set on the command line from the environment
// (BASCULE_FLAG_NAME) and then from the config file, and sets up logging.
func (g *GlobalOptions) load(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("config") {
		if v, ok := os.LookupEnv("BASCULE_CONFIG"); ok {
			g.ConfigFile = v
		}
	}
	cfg := map[string]any{}
	if g.ConfigFile != "" {
		b, err := os.ReadFile(g.ConfigFile)
		if err != nil {
			return fmt.Errorf("reading config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("config file %s: %w", g.ConfigFile, err)
		}
	}
	known := map[string]bool{}
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		known[f.Name] = true
		if f.Changed || ferr != nil {
			return
		}
		env := "BASCULE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				ferr = fmt.Errorf("%s: %w", env, err)
			}
			return
		}
		v, ok := cfg[f.Name]
		if !ok {
			return
		}
		vals := []any{v}
		if l, isList := v.([]any); isList {
			vals = l
		}
		for _, x := range vals {
			if err := f.Value.Set(fmt.Sprint(x)); err != nil {
				ferr = fmt.Errorf("config key %q: %w", f.Name, err)
				return
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	for k := range cfg {
		if !known[k] {
			return fmt.Errorf("config file %s: unknown key %q (keys are the flag names of %q)", g.ConfigFile, k, cmd.CommandPath())
		}
	}
	switch g.Output {
	case "text", "json":
	default:
		return fmt.Errorf("--output must be text or json, not %q", g.Output)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var w io.Writer = os.Stderr
	hopts := &slog.HandlerOptions{Level: lvl}
	switch g.LogFormat {
	case "text":
		g.logger = slog.New(slog.NewTextHandler(w, hopts))
	case "json":
		g.logger = slog.New(slog.NewJSONHandler(w, hopts))
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", g.LogFormat)
	}
	if g.MetricsAddr != "" && g.metrics == nil {
		m, err := startMetrics(g.MetricsAddr)
		if err != nil {
			return err
		}
		g.metrics = m
		g.logger.Info("serving metrics", "url", "http://"+m.Addr()+"/metrics")
	}
	return nil
}

// interactive reports whether progress bars should be drawn.
func (g *GlobalOptions) interactive() bool {
	return !g.NoProgress && g.Output == "text" && term.IsTerminal(int(os.Stderr.Fd()))
}

// readSecret returns the secret from the file named by fileFlag's value, else from the
// environment variable env. Secrets are never taken from a flag value, so they do not land
// in shell history.
func readSecret(path, env string) (string, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv(env), nil
}
