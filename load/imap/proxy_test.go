package imap_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// proxy forwards TCP connections to a server and can cut them all, at once or after a number
// of client-to-server bytes, to play a network failure.
type proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration // one-way latency added to every byte (0: none)

	mu       sync.Mutex
	open     map[net.Conn]bool
	sent     int64 // client → server bytes since the last cutAfter
	cutAt    int64 // cut when sent reaches this (0: never)
	accepted int
	rec      []byte // client → server bytes, the first 1 MiB
	stalled  bool   // drop client → server bytes: a server that stopped answering
}

// stall makes the server look hung (on) or answer again (off).
func (p *proxy) stall(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.mu.Unlock()
}

// recorded returns what clients sent so far (the first 1 MiB).
func (p *proxy) recorded() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.rec...)
}

func startProxy(t testing.TB, target string) *proxy { return startDelayProxy(t, target, 0) }

// startDelayProxy adds delay to each direction (a round trip costs 2×delay) without
// limiting throughput, as a distant server would.
func startDelayProxy(t testing.TB, target string, delay time.Duration) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, open: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cutNow() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// cutAfter cuts every connection once n more bytes went from clients to the server.
func (p *proxy) cutAfter(n int64) {
	p.mu.Lock()
	p.sent, p.cutAt = 0, n
	p.mu.Unlock()
}

// cutNow closes every open connection.
func (p *proxy) cutNow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		c.Close()
	}
	p.open = map[net.Conn]bool{}
	p.cutAt = 0
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.open[c], p.open[s] = true, true
		p.accepted++
		p.mu.Unlock()
		go func() { io.Copy(p.delayed(c), s); c.Close(); s.Close() }()
		go p.upstream(c, s, p.delayed(s))
	}
}

// delayed returns a writer that writes to w each chunk delay after it was handed over, in
// order; with no delay it is w itself.
func (p *proxy) delayed(w net.Conn) io.Writer {
	if p.delay == 0 {
		return w
	}
	type chunk struct {
		at   time.Time
		data []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := w.Write(c.data); err != nil {
				w.Close()
			}
		}
	}()
	return writerFunc(func(b []byte) (int, error) {
		ch <- chunk{at: time.Now().Add(p.delay), data: append([]byte(nil), b...)}
		return len(b), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *proxy) upstream(c, server net.Conn, s io.Writer) {
	defer c.Close()
	defer server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.sent += int64(n)
			if len(p.rec) < 1<<20 {
				p.rec = append(p.rec, buf[:n]...)
			}
			cut := p.cutAt > 0 && p.sent >= p.cutAt
			stalled := p.stalled
			p.mu.Unlock()
			if stalled {
				continue
			}
			if cut {
				p.cutNow()
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
