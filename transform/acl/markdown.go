package acl

import (
	"strings"
)

// Table returns the rows of the mapping table, individual rights first, then folder roles,
// Graph calendar roles and mailbox rights. The slice is a copy.
func Table() []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		r.Rights = append([]string(nil), r.Rights...)
		r.DAV = append([]string(nil), r.DAV...)
		out[i] = r
	}
	return out
}

// Markdown renders Table as a Markdown table: one line per role or right, with its IMAP
// rights on a mail folder, its DAV privileges and sharing level on a calendar, the rights
// that give those privileges on Cyrus, and whether each side is exact (with the note).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Exchange / Graph | kind | stands for | IMAP (mail folder) | mail exact | DAV (calendar) | share | Cyrus calendar rights | DAV exact | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{
			"`" + r.Name + "`",
			r.Kind,
			strings.Join(r.Rights, ", "),
			code(r.IMAP),
			yesNo(r.MailExact),
			code(strings.Join(r.DAV, ", ")),
			shareLevel(r.DAV),
			code(CyrusDAVRights(r.DAV)),
			yesNo(r.DAVExact),
			notes(r),
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func notes(r Row) string {
	var parts []string
	if r.MailNote != "" {
		parts = append(parts, "mail: "+r.MailNote)
	}
	if r.DAVNote != "" {
		parts = append(parts, "DAV: "+r.DAVNote)
	}
	return strings.ReplaceAll(strings.Join(parts, ". "), "|", "\\|")
}
