package verify

import "testing"

// TestFirstDiff: scripts are compared line by line once line endings are normalised; the
// first differing line is named with both sides.
func TestFirstDiff(t *testing.T) {
	for _, c := range []struct {
		want, got string
		line      int
		w, g      string
	}{
		{"a\nb\nc\n", "a\r\nb\r\nc\r\n", 0, "", ""},
		{"a\nb\n", "a\nb", 0, "", ""},
		{"a\nb\nc\n", "a\r\n# x\r\nb\r\nc\r\n", 2, "b", "# x"},
		{"a\nb\n", "a\n", 2, "b", ""},
		{"a\n", "a\nkeep;\n", 2, "", "keep;"},
		{"a\n\nb\n", "a\nb\n", 2, "", "b"},
	} {
		line, w, g, same := firstDiff([]byte(c.want), []byte(c.got))
		if same != (c.line == 0) || line != c.line || w != c.w || g != c.g {
			t.Errorf("firstDiff(%q, %q) = %d %q %q %v, want line %d %q %q", c.want, c.got, line, w, g, same, c.line, c.w, c.g)
		}
	}
}

// TestRights: the obsolete c and d are ignored; missing and extra letters are each side's.
func TestRights(t *testing.T) {
	want, got := rightSet("lrswipkxtea"), rightSet("lrswipkxtecdan")
	if m := minus(want, got); m != "" {
		t.Errorf("missing = %q, want none", m)
	}
	if x := minus(got, want); x != "n" {
		t.Errorf("extra = %q, want n", x)
	}
	if m := minus(rightSet("lrs"), rightSet("ls")); m != "r" {
		t.Errorf("missing = %q, want r", m)
	}
	if l := letters(rightSet("srlcd")); l != "lrs" {
		t.Errorf("letters = %q, want lrs", l)
	}
}
