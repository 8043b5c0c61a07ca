package imap

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/imap/imaptest"
	"github.com/bascule-migrate/bascule/model"
)

// BenchmarkSource reads a real Dovecot (tmpfs) holding 1,500 generated messages (mixed
// sizes up to 1 MiB) in one folder: Open of every body by 8 workers as the runner does,
// with 1 or 4 connections and 1 or 8 FETCHes in flight per connection; a full listing; and
// a delta pass with nothing new. Run with:
//
//	go test -run '^$' -bench BenchmarkSource -benchtime 3x ./extract/imap/
func BenchmarkSource(b *testing.B) {
	d := startDovecot(b, "alice", "bob")
	c := d.client(b, "alice")
	msgs := imaptest.Generate(imaptest.Options{Messages: 1500, Seed: 5, MaxSize: 1 << 20, Folders: []string{}})
	var ids []string
	var bytes int64
	seeded, err := imaptest.Seed(c, msgs)
	if err != nil {
		b.Fatal(err)
	}
	c.Logout().Wait()
	for _, m := range seeded {
		ids = append(ids, msgID(m.UIDValidity, m.UID, m.Folder))
		bytes += m.Size
	}
	mbx := model.Mailbox{ID: "alice", Address: "alice"}
	inbox := model.Folder{ID: "INBOX", Path: []string{"INBOX"}}
	b.Logf("%d messages, %.1f MB", len(ids), float64(bytes)/1e6)

	for _, cp := range []struct{ conns, pipe int }{{1, 1}, {1, 8}, {4, 1}, {4, 8}} {
		b.Run(fmt.Sprintf("Open/conns=%d/pipeline=%d", cp.conns, cp.pipe), func(b *testing.B) {
			cfg := dovecotConfig(d)
			cfg.Connections, cfg.Pipeline = cp.conns, cp.pipe
			src := d.source(b, cfg)
			ctx := context.Background()
			b.SetBytes(bytes)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				ch := make(chan string)
				var wg sync.WaitGroup
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]byte, 64<<10)
						for id := range ch {
							rc, err := src.Open(ctx, mbx, model.Message{ID: id})
							if err != nil {
								b.Error(err)
								continue
							}
							if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
								b.Error(err)
							}
							rc.Close()
						}
					}()
				}
				for _, id := range ids {
					ch <- id
				}
				close(ch)
				wg.Wait()
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(len(ids)*b.N)/el, "msgs/s")
		})
	}

	cfg := dovecotConfig(d)
	src := d.source(b, cfg)
	var cursor string
	b.Run("FullListing", func(b *testing.B) {
		for range b.N {
			n := 0
			for c, err := range src.Changes(context.Background(), mbx, inbox, "") {
				if err != nil {
					b.Fatal(err)
				}
				if c.Kind == extract.Upsert {
					n++
				}
				cursor = c.Cursor
			}
			if n != len(ids) {
				b.Fatalf("%d upserts, want %d", n, len(ids))
			}
		}
		b.ReportMetric(float64(len(ids)), "msgs/op")
	})
	b.Run("NoChangeDelta", func(b *testing.B) {
		for range b.N {
			for c, err := range src.Changes(context.Background(), mbx, inbox, cursor) {
				if err != nil || c.Kind != extract.Checkpoint {
					b.Fatalf("%+v, %v", c, err)
				}
			}
		}
	})
}
