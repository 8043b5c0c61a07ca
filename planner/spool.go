package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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

// binaryDetector watches bytes go by for NUL and bare CR or LF.
type binaryDetector struct {
	prev  byte
	found bool
}

func (d *binaryDetector) Write(p []byte) (int, error) {
	if d.found {
		return len(p), nil
	}
	for _, b := range p {
		switch {
		case b == 0:
			d.found = true
		case b == '\n' && d.prev != '\r':
			d.found = true
		case d.prev == '\r' && b != '\n':
			d.found = true
		}
		d.prev = b
	}
	return len(p), nil
}

// done reports the verdict at the end of the body (a final lone CR counts).
func (d *binaryDetector) done() bool { return d.found || d.prev == '\r' }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// spool reads r to its end. Bodies larger than memLimit go to a temporary file in dir.
// A read error (e.g. a body cut short by the network) is returned as it is; the caller
// classifies it.
func spool(r io.Reader, dir string, memLimit int64) (*spooled, error) {
	h := sha256.New()
	det := &binaryDetector{}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)

	// Read up to memLimit+1 bytes into memory first.
	n, err := io.Copy(buf, io.LimitReader(r, memLimit+1))
	if err != nil {
		return nil, err
	}
	if n <= memLimit {
		b := bytes.Clone(buf.Bytes())
		h.Write(b)
		det.Write(b)
		return &spooled{mem: b, size: int64(len(b)), sha: hex.EncodeToString(h.Sum(nil)), binary: det.done()}, nil
	}
	f, err := os.CreateTemp(dir, "bascule-spool-*")
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("spool: %w (set --spool-dir to a writable directory)", err))
	}
	// Unlink at once: the file lives as long as it is open, and a crash leaves nothing behind.
	_ = os.Remove(f.Name())
	w := io.MultiWriter(f, h, det)
	if _, err := w.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, model.Fatal(fmt.Errorf("spool: %w", err))
	}
	m, err := io.Copy(w, r)
	if err != nil {
		f.Close()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, model.Fatal(fmt.Errorf("spool: %w", err))
		}
		return nil, err
	}
	return &spooled{file: f, size: n + m, sha: hex.EncodeToString(h.Sum(nil)), binary: det.done()}, nil
}

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
