package state

import "github.com/bascule-migrate/bascule/model"

// Bits of the items.flags column every Store keeps (the keywords have their own column).
const (
	flagSeen = 1 << iota
	flagFlagged
	flagAnswered
	flagDraft
)

// EncodeFlags packs the four system flags of f into the items.flags bitmask: 1 Seen,
// 2 Flagged, 4 Answered, 8 Draft. f.Keywords is not part of it.
func EncodeFlags(f model.Flags) int64 {
	var n int64
	if f.Seen {
		n |= flagSeen
	}
	if f.Flagged {
		n |= flagFlagged
	}
	if f.Answered {
		n |= flagAnswered
	}
	if f.Draft {
		n |= flagDraft
	}
	return n
}

// DecodeFlags unpacks an items.flags bitmask (Keywords stays empty).
func DecodeFlags(n int64) model.Flags {
	return model.Flags{Seen: n&flagSeen != 0, Flagged: n&flagFlagged != 0, Answered: n&flagAnswered != 0, Draft: n&flagDraft != 0}
}
