// Command bascule moves Microsoft 365 / Exchange mailboxes to open-standard servers.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/model"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0 // everything done
	exitConfig      = 1 // usage, configuration or fatal error
	exitItemsFailed = 2 // some items or mailboxes failed (listed)
	exitDryRunBlock = 3 // a dry-run found blocking problems
	exitInterrupted = 4 // interrupted; rerun to resume
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

// exitCode maps an error to the process exit code; the one place where that happens.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "bascule:", ee.err)
		}
		return ee.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "bascule: interrupted; run the same command again to resume")
		return exitInterrupted
	case errors.Is(err, model.ErrFatal):
		fmt.Fprintln(os.Stderr, "bascule:", err)
		return exitConfig
	}
	fmt.Fprintln(os.Stderr, "bascule:", err)
	return exitConfig
}

func newRootCommand() *cobra.Command {
	g := &GlobalOptions{}
	root := &cobra.Command{
		Use:   "bascule",
		Short: "Move Microsoft 365 / Exchange mailboxes to open-standard servers",
		Long: `Bascule moves mailboxes from Microsoft 365 / Exchange Online (Microsoft Graph),
Exchange 2016/2019 on premises (EWS) or any IMAP server into IMAP servers such as Dovecot,
Cyrus, BlueMind or Apache James, and calendars, contacts and tasks into CalDAV/CardDAV
servers: byte-exact, resumable after any crash, with Microsoft's throttling budget handled
for you. Progress lives in a state store (a SQLite file, or PostgreSQL for a fleet of
workers), so every command can be run again: it resumes, and a second migrate is a delta pass.`,
		Example: `  # Try the whole pipeline on a built-in emulated tenant (needs nothing installed)
  bascule demo

  # Before deciding: a read-only audit, then waves that keep delegation groups together
  bascule audit --config bascule.yaml --all --report-dir audit/ --lang fr
  bascule plan --audit audit/audit.json --mapping users.csv --window 48h

  # Check a migration without writing anything, as CI would
  bascule migrate --dry-run --output json --config bascule.yaml

  # Migrate, then run again later for the delta; then prove it
  bascule migrate --config bascule.yaml
  bascule verify --config bascule.yaml --all
  bascule status`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.load(cmd); err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return nil
		},
	}
	g.AddFlags(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitConfig, err: fmt.Errorf("%w (see --help)", err)}
	})
	root.AddCommand(newMigrateCommand(g), newStatusCommand(g), newDemoCommand(g), newVersionCommand())
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

// commands are the commands that register themselves from their own file
// (func init() { registerCommand(newAuditCommand) }), in registration order.
var commands []func(*GlobalOptions) *cobra.Command

func registerCommand(c func(*GlobalOptions) *cobra.Command) { commands = append(commands, c) }

var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "bascule", version)
		},
	}
}
