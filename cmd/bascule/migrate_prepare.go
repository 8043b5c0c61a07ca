package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/transform"
)

// prepare checks migrate's (and worker's) flags, opens the source and the targets, and
// returns the planner options every run of them shares: everything but Store and Command.
// closeAll closes what was opened (call it once the runs are over). Errors are usage errors
// (exit 1).
func (o *MigrateOptions) prepare(ctx context.Context, g *GlobalOptions) (popts planner.Options, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
			closeAll = func() {}
		}
	}()
	usage := func(err error) error { return &exitError{code: exitConfig, err: err} }
	if o.Deletes != string(planner.DeletesKeep) && o.Deletes != string(planner.DeletesMirror) {
		return popts, closeAll, usage(fmt.Errorf("--deletes must be keep or mirror, not %q", o.Deletes))
	}
	sel, mapping, err := o.selection()
	if err != nil {
		return popts, closeAll, usage(err)
	}
	w, err := o.Groupware.kinds(o.Settings.SieveAddr != "")
	if err != nil {
		return popts, closeAll, usage(err)
	}
	mail, kinds := w.mail, w.kinds
	src, err := openSource(ctx, g, &o.Source, &o.EWS, sel.Addresses)
	if err != nil {
		return popts, closeAll, usage(err)
	}
	if g.metrics != nil {
		g.metrics.watchSource(src)
	}
	popts = planner.Options{Source: src, Kinds: kinds, SkipMail: !mail, Permissions: w.permissions, Rules: w.rules,
		SievePolicy: planner.SievePolicy(o.Settings.SievePolicy)}
	if popts.Rewrite, err = transform.ParseRewrites(o.Groupware.Rewrite); err != nil {
		return popts, closeAll, usage(err)
	}
	if w.permissions {
		exp, err := o.Settings.grants()
		if err != nil {
			return popts, closeAll, usage(err)
		}
		if exp != nil {
			popts.Grants, popts.GrantProblems = exp, exp.Problems()
		}
	}
	if w.rules {
		if popts.Sieve, err = o.Settings.sieveTarget(&o.Target, mapping); err != nil {
			return popts, closeAll, usage(err)
		}
	}
	if (w.permissions || w.rules) && !mail {
		// ACLs and Sieve go through the mail target: open it even when mail is not moved.
		mail = true
		popts.SkipMail = true
	}
	if mail {
		sink, err := o.Target.open(g, mapping)
		if err != nil {
			return popts, closeAll, usage(err)
		}
		closers = append(closers, func() { sink.Close() })
		popts.Sink = sink
	}
	if len(kinds) > 0 {
		gsink, err := o.Groupware.open(g, mapping)
		if err != nil {
			return popts, closeAll, usage(err)
		}
		closers = append(closers, func() { gsink.Close() })
		popts.GroupwareSink = gsink
		if popts.Converter, err = o.Groupware.converter(); err != nil {
			return popts, closeAll, usage(err)
		}
	}
	targets := map[string]string{}
	for _, e := range mapping {
		if e.Target != "" {
			targets[strings.ToLower(e.Source)] = e.Target
		}
	}
	popts.Selection, popts.Targets = sel, targets
	popts.MailboxParallel, popts.ItemParallel = o.MailboxParallel, o.itemParallel()
	popts.Deletes, popts.DryRun, popts.MaxMessageSize = planner.DeletePolicy(o.Deletes), o.DryRun, o.MaxMessageSize
	popts.SpoolDir, popts.Logger = o.SpoolDir, g.logger
	return popts, closeAll, nil
}

// itemParallel is --item-parallel, or when it is not given the source's own default:
// Microsoft's 4 concurrent requests per mailbox for Graph and EWS, 32 for an IMAP source
// (pipelined FETCHes over a few connections: make bench reaches the target's write ceiling
// and mbsync's time with 32, 5 % slower with 16, twice as slow with 4).
func (o *MigrateOptions) itemParallel() int {
	if o.ItemParallel > 0 {
		return o.ItemParallel
	}
	if o.EWS.Kind == "imap" {
		return 32
	}
	return 4
}
