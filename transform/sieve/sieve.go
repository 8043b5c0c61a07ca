package sieve

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform"
)

// Options carry what a rule's payload does not say.
type Options struct {
	// Folders maps Graph folder ids (moveToFolder, copyToFolder) to the target folder names,
	// in UTF-8 with "/" between levels, as the IMAP target lists them.
	Folders map[string]string
	// Trash is the target name of Deleted Items, where the delete action files messages
	// ("Trash" when empty).
	Trash string
	// Addresses are the mailbox's own addresses (sentToMe, sentCcMe, sentOnlyToMe,
	// notSentToMe, and vacation's :addresses). Rewritten addresses are added.
	Addresses []string
	// InternalDomains are the organisation's domains, for the internal/external audience of
	// the out-of-office; empty means the domains of Addresses. Rewritten domains are added.
	InternalDomains []string
	// Rewrite changes addresses' domains (--rewrite-domain): forwarding targets are
	// rewritten; address conditions match the old and the new address.
	Rewrite transform.Rewriter
}

// Unmapped is a rule left out of the script, with the reason.
type Unmapped struct {
	Rule   string // the rule's name (its id when it has none)
	Reason string
}

// Result is one Sieve script for a mailbox.
type Result struct {
	// Script is the whole script; empty when there is nothing to carry.
	Script []byte
	// Rules is the number of rules carried; AutoReply says whether an out-of-office is.
	Rules     int
	AutoReply bool
	// Unmapped are the rules left out (none is ever half translated); Skipped names the
	// rules disabled in Exchange (written as comments only); Warnings say where the script
	// differs from Exchange in a way worth knowing.
	Unmapped []Unmapped
	Skipped  []string
	Warnings []string
}

// Script writes rules (sorted by Sequence) and the out-of-office ar (nil: none) as one
// Sieve script. A rule with any condition or action that has no faithful Sieve form is left
// out whole and listed in Result.Unmapped. The error is reserved for unusable options.
func Script(rules []model.Rule, ar *model.AutoReply, opt Options) (Result, error) {
	w := &writer{opt: opt, req: map[string]bool{}}
	for id, name := range opt.Folders {
		if !validMailbox(name) {
			return Result{}, fmt.Errorf("target folder name %q (folder %s) is not a usable Sieve mailbox name", name, id)
		}
	}
	if opt.Trash != "" && !validMailbox(opt.Trash) {
		return Result{}, fmt.Errorf("trash folder name %q is not a usable Sieve mailbox name", opt.Trash)
	}
	w.own = w.expand(opt.Addresses)
	w.internal = w.domains()

	var res Result
	var body bytes.Buffer
	if ar != nil {
		if s, ok := w.vacation(ar, &res); ok {
			body.WriteString(s)
			res.AutoReply = true
		}
	}
	sorted := slices.Clone(rules)
	slices.SortStableFunc(sorted, func(a, b model.Rule) int { return cmp.Compare(a.Sequence, b.Sequence) })
	for _, r := range sorted {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		if !r.Enabled {
			fmt.Fprintf(&body, "# Rule %s (sequence %d) is disabled in Exchange: not carried.\n\n", comment(name), r.Sequence)
			res.Skipped = append(res.Skipped, name)
			continue
		}
		rw := &ruleWriter{w: w, req: map[string]bool{}}
		text, reason := rw.rule(r)
		if reason != "" {
			res.Unmapped = append(res.Unmapped, Unmapped{Rule: name, Reason: reason})
			fmt.Fprintf(&body, "# Rule %s (sequence %d) is not carried: %s\n\n", comment(name), r.Sequence, comment(reason))
			continue
		}
		for k := range rw.req {
			w.req[k] = true
		}
		w.redirects += rw.redirects
		for _, wn := range rw.warnings {
			res.Warnings = append(res.Warnings, fmt.Sprintf("rule %q: %s", name, wn))
		}
		fmt.Fprintf(&body, "# Rule %s (sequence %d)\n%s\n", comment(name), r.Sequence, text)
		res.Rules++
	}
	if w.redirects > 4 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the script may redirect one message to %d addresses: Dovecot's default sieve_max_redirects is 4 (raise it, or the delivery fails over to a plain keep)", w.redirects))
	}
	res.Warnings = append(res.Warnings, w.warnings...)
	if res.Rules == 0 && !res.AutoReply {
		return res, nil
	}
	var out bytes.Buffer
	out.WriteString("# Inbox rules and out-of-office carried from Exchange by Bascule.\n")
	var reqs []string
	for k := range w.req {
		reqs = append(reqs, k)
	}
	slices.Sort(reqs)
	if len(reqs) > 0 {
		out.WriteString("require " + stringList(reqs) + ";\n")
	}
	out.WriteString("\n")
	out.Write(body.Bytes())
	res.Script = out.Bytes()
	return res, nil
}

// writer holds what the whole script shares.
type writer struct {
	opt       Options
	own       []string // the mailbox's addresses, old and rewritten
	internal  []string // internal domains, old and rewritten
	req       map[string]bool
	redirects int
	warnings  []string
}

// expand returns addrs plus their rewritten forms, without repeats (case-insensitively),
// keeping only valid addresses.
func (w *writer) expand(addrs []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.TrimSpace(a)
		if !validAddress(a) || seen[strings.ToLower(a)] {
			return
		}
		seen[strings.ToLower(a)] = true
		out = append(out, a)
	}
	for _, a := range addrs {
		add(a)
		add(w.opt.Rewrite.Address(a))
	}
	return out
}

func (w *writer) domains() []string {
	src := w.opt.InternalDomains
	if len(src) == 0 {
		for _, a := range w.own {
			src = append(src, a[strings.LastIndexByte(a, '@')+1:])
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range src {
		d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		for _, x := range []string{d, strings.TrimPrefix(w.opt.Rewrite.Address("x@"+d), "x@")} {
			if validDomain(x) && !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}
