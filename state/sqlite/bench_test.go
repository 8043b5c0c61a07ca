package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// benchItem is an item shaped like a real one: Graph-length ids, a hash, a Message-ID.
func benchItem(run, n int) state.Item {
	return state.Item{
		Mailbox:      "AAMkAGI2TG93AAA-user-0001",
		ID:           fmt.Sprintf("AAMkAGI2TG93AAA%sBGAAAAAAA-%d-%08d", strings.Repeat("x", 110), run, n),
		FolderID:     fmt.Sprintf("AAMkAGI2TG93AAA%sAQAAAAA-%d", strings.Repeat("f", 110), n%20),
		ChangeKey:    "CQAAABYAAAD" + fmt.Sprint(n),
		Status:       state.StatusDone,
		TargetFolder: "INBOX/Projets",
		UIDValidity:  1700000000,
		UID:          uint32(n + 1),
		SHA256:       strings.Repeat("9f", 32),
		Size:         int64(20000 + n),
		Flags:        model.Flags{Seen: true},
		MessageID:    fmt.Sprintf("<%d.%d@mail.example.org>", run, n),
		Received:     time.Unix(1700000000+int64(n), 123456789),
	}
}

// BenchmarkPutItems writes 10,000 items in batches of 64 (one transaction each) per
// iteration into a file in WAL mode, and reports items/s.
func BenchmarkPutItems(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const total, batch = 10000, 64
	run := 0
	items := make([]state.Item, total)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range items {
			items[i] = benchItem(run, i)
		}
		run++
		b.StartTimer()
		for i := 0; i < total; i += batch {
			if err := s.PutItems(ctx, items[i:min(i+batch, total)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(total*run)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkItemLookup looks items up by (mailbox, id) at random in a store of 10,000 and
// reports lookups/s.
func BenchmarkItemLookup(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const total = 10000
	items := make([]state.Item, total)
	for i := range items {
		items[i] = benchItem(0, i)
	}
	if err := s.PutItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	b.ResetTimer()
	for b.Loop() {
		want := items[rng.IntN(total)]
		got, err := s.Item(ctx, want.Mailbox, want.ID)
		if err != nil || got.UID != want.UID {
			b.Fatalf("Item() = %+v, %v", got, err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
