package imap

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Cursor modes.
const (
	modeCondStore = 'c' // delta by MODSEQ (CONDSTORE)
	modeFlags     = 'f' // delta by comparing flag digests
	modeNoSelect  = 'n' // a \Noselect folder: nothing to read
)

// maxCursorUIDs bounds what a cursor may expand to (a damaged cursor must not exhaust memory).
const maxCursorUIDs = 1 << 25

// cursor is the state of one folder after a pass:
//
//	imap1;<mode>;<uidvalidity>;<uidnext>;<highestmodseq>;<digests>;<runs>
//
// runs are the UIDs seen, as comma-separated "lo-hi" ranges ("lo" alone for one); in flags
// mode each run ends in ".k", k the index in the comma-separated flag digests of the flags
// every UID of the run had. A folder that only grows is one run whatever its size.
type cursor struct {
	mode     byte
	validity uint32
	next     uint32
	modseq   uint64
	digests  []string
	uids     []uint32 // sorted
	cls      []uint16 // flags mode: digest index per uid
}

func (c *cursor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imap1;%c;%d;%d;%d;%s;", c.mode, c.validity, c.next, c.modseq, strings.Join(c.digests, ","))
	for i := 0; i < len(c.uids); {
		j := i + 1
		for j < len(c.uids) && c.uids[j] == c.uids[j-1]+1 && (c.cls == nil || c.cls[j] == c.cls[i]) {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(c.uids[i]), 10))
		if j-1 > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatUint(uint64(c.uids[j-1]), 10))
		}
		if c.cls != nil {
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(int(c.cls[i])))
		}
		i = j
	}
	return b.String()
}

var errBadCursor = errors.New("not a cursor of the IMAP source")

// parseCursor reads a cursor written by String.
func parseCursor(s string) (*cursor, error) {
	parts := strings.Split(s, ";")
	if len(parts) != 7 || parts[0] != "imap1" || len(parts[1]) != 1 {
		return nil, errBadCursor
	}
	c := &cursor{mode: parts[1][0]}
	switch c.mode {
	case modeCondStore, modeFlags, modeNoSelect:
	default:
		return nil, errBadCursor
	}
	v, err1 := strconv.ParseUint(parts[2], 10, 32)
	n, err2 := strconv.ParseUint(parts[3], 10, 32)
	m, err3 := strconv.ParseUint(parts[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errBadCursor
	}
	c.validity, c.next, c.modseq = uint32(v), uint32(n), m
	if parts[5] != "" {
		c.digests = strings.Split(parts[5], ",")
		if len(c.digests) > 1<<16 {
			return nil, errBadCursor
		}
	}
	if c.mode == modeFlags {
		c.cls = []uint16{}
	}
	if parts[6] == "" {
		return c, nil
	}
	for _, r := range strings.Split(parts[6], ",") {
		k := -1
		if c.mode == modeFlags {
			rr, ks, ok := strings.Cut(r, ".")
			if !ok {
				return nil, errBadCursor
			}
			kk, err := strconv.Atoi(ks)
			if err != nil || kk < 0 || kk >= len(c.digests) {
				return nil, errBadCursor
			}
			r, k = rr, kk
		}
		los, his, isRange := strings.Cut(r, "-")
		lo, err := strconv.ParseUint(los, 10, 32)
		if err != nil || lo == 0 {
			return nil, errBadCursor
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(his, 10, 32); err != nil || hi < lo {
				return nil, errBadCursor
			}
		}
		if len(c.uids) > 0 && uint64(c.uids[len(c.uids)-1]) >= lo {
			return nil, errBadCursor
		}
		if uint64(len(c.uids))+hi-lo+1 > maxCursorUIDs {
			return nil, errBadCursor
		}
		for u := lo; u <= hi; u++ {
			c.uids = append(c.uids, uint32(u))
			if k >= 0 {
				c.cls = append(c.cls, uint16(k))
			}
		}
	}
	return c, nil
}

// digestOf returns the digest index of uid in c, or -1 when c has no such uid.
func (c *cursor) digestOf(uid uint32) (string, bool) {
	i, ok := slices.BinarySearch(c.uids, uid)
	if !ok {
		return "", false
	}
	if c.cls == nil {
		return "", true
	}
	return c.digests[c.cls[i]], true
}

// has reports whether c saw uid.
func (c *cursor) has(uid uint32) bool {
	_, ok := slices.BinarySearch(c.uids, uid)
	return ok
}

// cursorBuilder collects a new cursor's UIDs (in any order, a UID added again replaces its
// digest) and digests; 8 bytes per UID.
type cursorBuilder struct {
	c     cursor
	index map[string]uint16
	ents  []uint64 // uid<<32 | digest index, in the order added
}

func newBuilder(mode byte, validity, next uint32, modseq uint64) *cursorBuilder {
	return &cursorBuilder{c: cursor{mode: mode, validity: validity, next: next, modseq: modseq}, index: map[string]uint16{}}
}

// add records uid with its flag digest ("" in CONDSTORE mode).
func (b *cursorBuilder) add(uid uint32, digest string) {
	var k uint16
	if b.c.mode == modeFlags {
		var ok bool
		if k, ok = b.index[digest]; !ok {
			k = uint16(len(b.c.digests))
			b.index[digest] = k
			b.c.digests = append(b.c.digests, digest)
		}
	}
	b.ents = append(b.ents, uint64(uid)<<32|uint64(k))
}

func (b *cursorBuilder) cursor() *cursor {
	c := b.c
	slices.SortStableFunc(b.ents, func(x, y uint64) int { return int(int64(x>>32) - int64(y>>32)) })
	c.uids = make([]uint32, 0, len(b.ents))
	if c.mode == modeFlags {
		c.cls = make([]uint16, 0, len(b.ents))
	}
	for i, e := range b.ents {
		if i+1 < len(b.ents) && b.ents[i+1]>>32 == e>>32 {
			continue // a later add of the same uid wins (the sort is stable)
		}
		c.uids = append(c.uids, uint32(e>>32))
		if c.mode == modeFlags {
			c.cls = append(c.cls, uint16(e))
		}
	}
	return &c
}

// flagDigest is a short digest of a flag set (system flags and keywords, in any order).
func flagDigest(flags []imap.Flag) string {
	fs := make([]string, 0, len(flags))
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) { // per session, not stored
			fs = append(fs, string(f))
		}
	}
	slices.Sort(fs)
	h := fnv.New64a()
	for _, f := range fs {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64()&(1<<48-1), 36)
}
