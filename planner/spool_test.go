package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

func TestSpoolKeepsBytes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 1 << 10, 1<<10 + 1, 3 << 20} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rand.IntN(256))
		}
		s, err := spool(bytes.NewReader(data), dir, 1<<10)
		if err != nil {
			t.Fatalf("spool(%d) = %v", n, err)
		}
		sum := sha256.Sum256(data)
		if s.sha != hex.EncodeToString(sum[:]) || s.size != int64(n) {
			t.Errorf("spool(%d): size %d sha %s", n, s.size, s.sha)
		}
		if (s.file != nil) != (n > 1<<10) {
			t.Errorf("spool(%d): on disk = %v", n, s.file != nil)
		}
		for range 2 { // readable more than once (retries)
			got, _ := io.ReadAll(s.Reader())
			if !bytes.Equal(got, data) {
				t.Fatalf("spool(%d): bytes differ", n)
			}
		}
		s.Close()
	}
	// The temporary files are unlinked at once: nothing is left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spool left %d files in %s", len(ents), dir)
	}
}

type cutReader struct{ n int }

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), c.n)
	c.n -= k
	return k, nil
}

func TestSpoolReportsTruncation(t *testing.T) {
	for _, n := range []int{10, 5000} {
		if _, err := spool(&cutReader{n: n}, t.TempDir(), 1<<10); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("spool(cut after %d) = %v, want the read error", n, err)
		}
	}
}

func BenchmarkSpool(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	dir := b.TempDir()
	for range b.N {
		s, err := spool(bytes.NewReader(data), dir, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func TestSpoolDetectsBinary(t *testing.T) {
	for in, want := range map[string]bool{"a\r\nb\r\n": false, "a\nb": true, "a\rb": true, "a\x00b": true, "ab\r": true, "": false} {
		for _, limit := range []int64{1, 1 << 10} { // on disk and in memory
			s, err := spool(strings.NewReader(in), t.TempDir(), limit)
			if err != nil {
				t.Fatal(err)
			}
			if s.binary != want {
				t.Errorf("spool(%q, limit %d).binary = %v, want %v", in, limit, s.binary, want)
			}
			s.Close()
		}
	}
}

// mailLike is a realistic message body: CRLF lines of 76 characters (base64 attachments).
func mailLike(n int) []byte {
	line := []byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n")
	return bytes.Repeat(line, n/len(line)+1)[:n]
}

func BenchmarkBinaryDetector(b *testing.B) {
	data := mailLike(1 << 20)
	b.SetBytes(int64(len(data)))
	for range b.N {
		var d binaryDetector
		for i := 0; i < len(data); i += 32 << 10 {
			d.Write(data[i:min(i+32<<10, len(data))])
		}
		if d.done() {
			b.Fatal("CRLF text seen as binary")
		}
	}
}

func BenchmarkSpoolSmall(b *testing.B) {
	data := mailLike(20 << 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	dir := b.TempDir()
	for range b.N {
		s, err := spool(bytes.NewReader(data), dir, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkSpoolSmallSized(b *testing.B) {
	data := mailLike(20 << 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	dir := b.TempDir()
	for range b.N {
		s, err := spoolSized(bytes.NewReader(data), dir, 1<<20, int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// TestSpoolSized: whatever the announced size (right, too small, too large, unknown), the
// spool holds exactly the bytes read, in memory up to the limit and on disk beyond.
func TestSpoolSized(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 1000, 1024, 1025, 5000} {
		data := mailLike(n)
		sum := sha256.Sum256(data)
		for _, hint := range []int64{0, int64(n), int64(n) / 2, int64(n)*2 + 1, 1 << 30} {
			s, err := spoolSized(bytes.NewReader(data), dir, 1<<10, hint)
			if err != nil {
				t.Fatalf("spoolSized(%d, hint %d) = %v", n, hint, err)
			}
			got, _ := io.ReadAll(s.Reader())
			if !bytes.Equal(got, data) || s.size != int64(n) || s.sha != hex.EncodeToString(sum[:]) {
				t.Errorf("spoolSized(%d, hint %d): %d bytes back, size %d", n, hint, len(got), s.size)
			}
			if wantDisk := n > 1<<10 || hint > 1<<10; (s.file != nil) != wantDisk {
				t.Errorf("spoolSized(%d, hint %d): on disk = %v, want %v", n, hint, s.file != nil, wantDisk)
			}
			s.Close()
		}
	}
}
