package sieve

import (
	"fmt"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// vacation writes the out-of-office as vacation actions (RFC 5230) under date bounds
// (RFC 5260 currentdate) and an internal/external split on the envelope sender's domain.
// ok is false when nothing is to be written (disabled, or no message to send).
func (w *writer) vacation(ar *model.AutoReply, res *Result) (string, bool) {
	warn := func(f string, a ...any) { res.Warnings = append(res.Warnings, "out-of-office: "+fmt.Sprintf(f, a...)) }
	var bounds []string
	desc := ""
	switch ar.Status {
	case "", "disabled":
		return "", false
	case "alwaysEnabled":
		desc = "always on"
	case "scheduled":
		w.req["date"], w.req["relational"] = true, true
		// Both sides in UTC, compared as strings: the bound has no zone suffix, so the
		// current time "…T08:00:00Z" (or "+00:00") sorts after the start bound of the same
		// second and after the end bound of the same second: start included, end excluded.
		if !ar.Start.IsZero() {
			bounds = append(bounds, fmt.Sprintf(`currentdate :zone "+0000" :value "ge" "iso8601" %q`, ar.Start.UTC().Format("2006-01-02T15:04:05")))
		} else {
			warn("scheduled without a start: carried as starting now")
		}
		if !ar.End.IsZero() {
			bounds = append(bounds, fmt.Sprintf(`currentdate :zone "+0000" :value "lt" "iso8601" %q`, ar.End.UTC().Format("2006-01-02T15:04:05")))
		} else {
			warn("scheduled without an end: carried without one")
		}
		if !ar.Start.IsZero() && !ar.End.IsZero() && !ar.End.After(ar.Start) {
			warn("the schedule ends (%s) before it starts (%s): it never answers", ar.End.UTC().Format(time.RFC3339), ar.Start.UTC().Format(time.RFC3339))
		}
		desc = fmt.Sprintf("scheduled from %s to %s", utc(ar.Start), utc(ar.End))
	default:
		warn("unknown status %q: not carried", ar.Status)
		return "", false
	}

	internal := htmlText(ar.InternalReply)
	external := htmlText(ar.ExternalReply)
	audience := ar.ExternalAudience
	switch audience {
	case "none", "all":
	case "contactsOnly":
		warn("externalAudience contactsOnly: Sieve cannot consult the owner's contacts, so outside senders get no reply (the safe side)")
		audience = "none"
	case "":
		warn("no externalAudience: outside senders get no reply (the safe side)")
		audience = "none"
	default:
		warn("unknown externalAudience %q: outside senders get no reply (the safe side)", ar.ExternalAudience)
		audience = "none"
	}
	if internal == "" {
		warn("the internal message is empty: no reply inside the organisation")
	}
	if audience == "all" && external == "" {
		warn("the external message is empty: no reply outside the organisation")
	}
	if len(w.internal) == 0 {
		warn("the organisation's domains are unknown: every sender counts as external")
	}
	reply := func(text, handle string) string {
		w.req["vacation"] = true
		s := "vacation :days 1"
		if len(w.own) > 0 {
			s += " :addresses " + stringList(w.own)
		}
		// Distinct handles keep the once-a-day memory of the two messages apart.
		return s + " :handle " + quote(handle) + " " + quote(text) + ";"
	}
	var inner []string // lines of the body, indented by the caller
	isInternal := ""
	if len(w.internal) > 0 {
		w.req["envelope"] = true
		isInternal = "envelope :domain :is \"from\" " + stringList(w.internal)
	}
	switch {
	case internal != "" && isInternal != "" && audience == "all" && external != "":
		inner = append(inner, "if "+isInternal+" {", "    "+reply(internal, "bascule-oof-internal"), "} else {", "    "+reply(external, "bascule-oof-external"), "}")
	case internal != "" && isInternal != "":
		inner = append(inner, "if "+isInternal+" {", "    "+reply(internal, "bascule-oof-internal"), "}")
	case audience == "all" && external != "" && isInternal != "":
		inner = append(inner, "if not "+isInternal+" {", "    "+reply(external, "bascule-oof-external"), "}")
	case audience == "all" && external != "":
		inner = append(inner, reply(external, "bascule-oof-external"))
	default:
		warn("no message would ever be sent: not carried")
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Out-of-office (%s; outside senders: %s). HTML messages are sent as plain text.\n", desc, oneLine(ar.ExternalAudience))
	indent := ""
	if len(bounds) > 0 {
		test := bounds[0]
		if len(bounds) > 1 {
			test = "allof(" + strings.Join(bounds, ",\n      ") + ")"
		}
		b.WriteString("if " + test + " {\n")
		indent = "    "
	}
	for _, l := range inner {
		b.WriteString(indent + l + "\n")
	}
	if len(bounds) > 0 {
		b.WriteString("}\n")
	}
	b.WriteString("\n")
	return b.String(), true
}

func utc(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
