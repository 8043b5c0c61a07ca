package main

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/bascule-migrate/bascule/planner"
)

// progress shows a run: bars on a terminal, periodic log lines otherwise.
type progress interface {
	planner.Progress
	Wait()
}

func newProgress(g *GlobalOptions, w io.Writer) progress {
	if g.interactive() {
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), bars: map[string]*mbBar{}}
	}
	lp := &logProgress{log: g.logger, stop: make(chan struct{}), done: make(chan struct{})}
	go lp.loop()
	return lp
}

type barProgress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mbBar
}

type mbBar struct {
	*mpb.Bar
	total, n atomic.Int64
}

func (b *barProgress) MailboxStart(addr string, est int64) {
	bar := &mbBar{}
	bar.total.Store(max(est, 1))
	bar.Bar = b.p.AddBar(max(est, 1),
		mpb.PrependDecorators(decor.Name(addr, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" "), decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30)),
	)
	b.mu.Lock()
	b.bars[addr] = bar
	b.mu.Unlock()
}

func (b *barProgress) ItemDone(addr string, bytes int64) {
	b.mu.Lock()
	bar := b.bars[addr]
	b.mu.Unlock()
	if bar == nil {
		return
	}
	// The estimate comes from the folders' counts and may be low: grow the total as needed.
	if n := bar.n.Add(1); n >= bar.total.Load() {
		bar.total.Store(n + 1)
		bar.SetTotal(n+1, false)
	}
	bar.EwmaIncrInt64(1, time.Millisecond)
	_ = bytes
}

func (b *barProgress) MailboxDone(addr string, err error) {
	b.mu.Lock()
	bar := b.bars[addr]
	b.mu.Unlock()
	if bar == nil {
		return
	}
	if err != nil {
		bar.Abort(false)
		return
	}
	bar.SetTotal(-1, true)
}

func (b *barProgress) Wait() { b.p.Wait() }

type logProgress struct {
	log        *slog.Logger
	items      atomic.Int64
	bytes      atomic.Int64
	stop, done chan struct{}
	once       sync.Once
}

func (l *logProgress) MailboxStart(addr string, est int64) {
	l.log.Info("mailbox started", "mailbox", addr, "estimated_items", est)
}
func (l *logProgress) ItemDone(_ string, bytes int64) {
	l.items.Add(1)
	l.bytes.Add(bytes)
}
func (l *logProgress) MailboxDone(addr string, err error) {
	if err != nil {
		l.log.Error("mailbox stopped", "mailbox", addr, "err", err)
		return
	}
	l.log.Info("mailbox done", "mailbox", addr)
}

func (l *logProgress) loop() {
	defer close(l.done)
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.log.Info("progress", "items", l.items.Load(), "bytes", l.bytes.Load())
		case <-l.stop:
			return
		}
	}
}

func (l *logProgress) Wait() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// countProgress shows how many of a known number of things (mailboxes audited, verified)
// are done: one bar on a terminal, a log line every 10 s otherwise.
type countProgress struct {
	bar  *mpb.Bar
	p    *mpb.Progress
	log  *slog.Logger
	what string
	mu   sync.Mutex
	last time.Time
}

func newCountProgress(g *GlobalOptions, w io.Writer, what string) *countProgress {
	c := &countProgress{log: g.logger, what: what, last: time.Now()}
	if g.interactive() {
		c.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	}
	return c
}

// Done records that done of total are finished (address is the last one).
func (c *countProgress) Done(address string, done, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		if c.bar == nil {
			c.bar = c.p.AddBar(int64(total), mpb.PrependDecorators(decor.Name(c.what, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" "), decor.AverageETA(decor.ET_STYLE_GO)))
		}
		c.bar.SetCurrent(int64(done))
		return
	}
	if done == total || time.Since(c.last) >= 10*time.Second {
		c.last = time.Now()
		c.log.Info(c.what, "done", done, "of", total, "last", address)
	}
}

// Wait ends the display.
func (c *countProgress) Wait() {
	if c.p == nil {
		return
	}
	c.mu.Lock()
	if c.bar != nil && !c.bar.Completed() {
		c.bar.Abort(false)
	}
	c.mu.Unlock()
	c.p.Wait()
}
