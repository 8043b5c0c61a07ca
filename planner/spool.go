package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/bascule-migrate/bascule/model"
)

// spooled holds one message body between the source and the target: in memory up to a limit,
// in a temporary file beyond it, so memory stays bounded whatever the message size. It knows
// the exact size and SHA-256 of what it holds, and can be read several times (retries).
type spooled struct {
	mem  []byte
	file *os.File
	size int64
	sha  string
	// binary: the body holds NUL or a CR/LF that is not part of a CRLF pair, which a plain
	// IMAP literal cannot carry unchanged.
	binary bool
}

// binaryDetector watches bytes go by for NUL and bare CR or LF. It looks for the three
// bytes with bytes.IndexByte (vectorised) rather than byte by byte: on mail-like text it is
// several times faster, and it runs over every byte of every message.
type binaryDetector struct {
	prev  byte
	found bool
}

func (d *binaryDetector) Write(p []byte) (int, error) {
	if d.found || len(p) == 0 {
		return len(p), nil
	}
	if (d.prev == '\r') != (p[0] == '\n') || bytes.IndexByte(p, 0) >= 0 {
		d.found = true
		return len(p), nil
	}
	// Every LF must follow a CR, and every CR but a final one must precede an LF.
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		if k := i + j; k > 0 && p[k-1] != '\r' {
			d.found = true
			return len(p), nil
		}
		i += j + 1
	}
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], '\r')
		if j < 0 {
			break
		}
		if k := i + j; k+1 < len(p) && p[k+1] != '\n' {
			d.found = true
			return len(p), nil
		}
		i += j + 1
	}
	d.prev = p[len(p)-1]
	return len(p), nil
}

// done reports the verdict at the end of the body (a final lone CR counts).
func (d *binaryDetector) done() bool { return d.found || d.prev == '\r' }

// copyBufs are the buffers bodies are copied through on their way to a spool file.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// spool reads r to its end. Bodies larger than memLimit go to a temporary file in dir.
// A read error (e.g. a body cut short by the network) is returned as it is; the caller
// classifies it.
func spool(r io.Reader, dir string, memLimit int64) (*spooled, error) {
	return spoolSized(r, dir, memLimit, 0)
}

// spoolSized is spool with the size the source announced (0: unknown). A body announced
// over memLimit goes straight to a file; a smaller one is read into one buffer of about
// its size, which becomes the spool itself (no intermediate buffer, no second copy). The
// announcement is only a hint: a body larger than announced still spills to a file at
// memLimit, and Graph's sizes (PidTagMessageSize) are not the MIME size.
func spoolSized(r io.Reader, dir string, memLimit, hint int64) (*spooled, error) {
	h := sha256.New()
	det := &binaryDetector{}
	var head []byte
	switch {
	case hint <= 0:
		// Unknown size: through a pooled buffer, then copied out at its exact size.
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufPool.Put(buf)
		n, err := io.Copy(buf, io.LimitReader(r, memLimit+1))
		if err != nil {
			return nil, err
		}
		if n <= memLimit {
			return inMemory(bytes.Clone(buf.Bytes()), h, det), nil
		}
		head = buf.Bytes()
	case hint <= memLimit:
		buf := make([]byte, 0, min(memLimit+1, hint+hint/8+512))
		for int64(len(buf)) <= memLimit {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, int(min(memLimit+1, int64(2*cap(buf))))-len(buf))
			}
			n, err := r.Read(buf[len(buf):min(int64(cap(buf)), memLimit+1)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				return inMemory(buf, h, det), nil
			}
			if err != nil {
				return nil, err
			}
		}
		head = buf
	}
	f, err := os.CreateTemp(dir, "bascule-spool-*")
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("spool: %w (set --spool-dir to a writable directory)", err))
	}
	// Unlink at once: the file lives as long as it is open, and a crash leaves nothing behind.
	_ = os.Remove(f.Name())
	w := io.MultiWriter(f, h, det)
	if _, err := w.Write(head); err != nil {
		f.Close()
		return nil, model.Fatal(fmt.Errorf("spool: %w", err))
	}
	bp := copyBufs.Get().(*[]byte)
	m, err := io.CopyBuffer(onlyWriter{w}, onlyReader{r}, *bp)
	copyBufs.Put(bp)
	if err != nil {
		f.Close()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, model.Fatal(fmt.Errorf("spool: %w", err))
		}
		return nil, err
	}
	return &spooled{file: f, size: int64(len(head)) + m, sha: hex.EncodeToString(h.Sum(nil)), binary: det.done()}, nil
}

func inMemory(b []byte, h hash.Hash, det *binaryDetector) *spooled {
	h.Write(b)
	det.Write(b)
	return &spooled{mem: b, size: int64(len(b)), sha: hex.EncodeToString(h.Sum(nil)), binary: det.done()}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// onlyWriter and onlyReader hide ReadFrom / WriteTo so that io.CopyBuffer uses the buffer
// it is given.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

// Reader returns a new reader over the whole body.
func (s *spooled) Reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.mem)
}

// Close releases the temporary file, if any.
func (s *spooled) Close() {
	if s.file != nil {
		s.file.Close()
	}
}
