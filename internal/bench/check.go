package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
)

// Exactness counts how a target differs from the corpus, per message.
type Exactness struct {
	Source, Target int
	// Missing: no message with the same SHA-256 on the target (lost or altered bytes).
	Missing int
	// Extra: how many more messages the target holds than the corpus (duplicates).
	Extra int
	// Flags: same bytes, other system flags or keywords (\Recent ignored).
	Flags int
	// Keywords: of Flags, those where only keywords differ.
	Keywords int
	// Date: same bytes, another INTERNALDATE.
	Date int
	// Folder: same bytes, in a folder of another name.
	Folder int
}

// Differ is the number of corpus messages not found exactly on the target: bytes, flags
// (system flags and keywords) and INTERNALDATE.
func (e Exactness) Differ() int { return e.Missing + e.Flags + e.Date }

func (e Exactness) String() string {
	if e.Differ() == 0 && e.Extra == 0 {
		return "exact"
	}
	var p []string
	if e.Missing > 0 {
		p = append(p, fmt.Sprintf("%d bytes≠/missing", e.Missing))
	}
	if e.Flags > 0 {
		s := fmt.Sprintf("%d flags≠", e.Flags)
		if e.Keywords > 0 {
			s += fmt.Sprintf(" (%d keywords only)", e.Keywords)
		}
		p = append(p, s)
	}
	if e.Date > 0 {
		p = append(p, fmt.Sprintf("%d date≠", e.Date))
	}
	if e.Extra > 0 {
		p = append(p, fmt.Sprintf("%d extra", e.Extra))
	}
	return strings.Join(p, ", ")
}

// Add sums two counts.
func (e *Exactness) Add(o Exactness) {
	e.Source += o.Source
	e.Target += o.Target
	e.Missing += o.Missing
	e.Extra += o.Extra
	e.Flags += o.Flags
	e.Keywords += o.Keywords
	e.Date += o.Date
	e.Folder += o.Folder
}

// Compare matches a corpus account with what a target holds: each corpus message is looked
// for by SHA-256 (in the folder of the same name first), then its flags and INTERNALDATE
// are compared.
func Compare(u CorpusUser, snap *imapcheck.Snapshot) Exactness {
	type placed struct {
		folder string
		msg    imapcheck.Message
	}
	byHash := map[string][]placed{}
	var e Exactness
	for _, f := range snap.Folders {
		for _, m := range f.Messages {
			byHash[m.SHA256] = append(byHash[m.SHA256], placed{f.Name, m})
			e.Target++
		}
	}
	e.Source = len(u.Messages)
	for _, m := range u.Messages {
		cands := byHash[m.SHA256]
		if len(cands) == 0 {
			e.Missing++
			continue
		}
		i := slices.IndexFunc(cands, func(p placed) bool { return p.folder == m.Folder })
		if i < 0 {
			e.Folder++
			i = 0
		}
		got := cands[i].msg
		byHash[m.SHA256] = slices.Delete(cands, i, i+1)
		want, have := flagSet(m.Flags), flagSet(flagStrings(got))
		if !maps2Equal(want, have) {
			e.Flags++
			if maps2Equal(systemOnly(want), systemOnly(have)) {
				e.Keywords++
			}
		}
		if !got.InternalDate.Equal(m.Date) {
			e.Date++
		}
	}
	e.Extra = max(e.Target-e.Source, 0)
	return e
}

func flagStrings(m imapcheck.Message) []string {
	out := make([]string, len(m.Flags))
	for i, f := range m.Flags {
		out[i] = string(f)
	}
	return out
}

func flagSet(fl []string) map[string]bool {
	s := map[string]bool{}
	for _, f := range fl {
		f = strings.ToLower(f)
		if f == `\recent` {
			continue
		}
		s[f] = true
	}
	return s
}

func systemOnly(s map[string]bool) map[string]bool {
	out := map[string]bool{}
	for f := range s {
		if strings.HasPrefix(f, `\`) {
			out[f] = true
		}
	}
	return out
}

func maps2Equal(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// CheckTarget reads back every account of the corpus on a target and compares.
func CheckTarget(addr string, c *Corpus, login func(user string) Login) (Exactness, error) {
	var total Exactness
	for _, u := range c.Users {
		l := login(u.Login)
		cl, err := imapcheck.Dial(addr, l.User, l.Password)
		if err != nil {
			return total, err
		}
		snap, err := imapcheck.Take(cl)
		cl.Close()
		if err != nil {
			return total, fmt.Errorf("%s: %w", u.Login, err)
		}
		total.Add(Compare(u, snap))
	}
	return total, nil
}
