package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCalCursorRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000} {
		st := calState{}
		for i := range n {
			// Graph-like ids: a long shared prefix, a short distinct tail.
			st[fmt.Sprintf("AAMkAGI2NGVhZTVlLTI1OGMtNDI4My1iZmE5LTA5OGJiZGEzMzQ4ZgBGAAAAAADUuTJK1K9aTpCdqXop_4NaBwA%06dAAA=", i*7919)] = uint64(i) * 0x9E3779B97F4A7C15
		}
		c := encodeCalCursor("cal-1", st)
		got, err := decodeCalCursor("cal-1", c)
		if err != nil {
			t.Fatalf("decodeCalCursor(%d entries) = %v", n, err)
		}
		if !maps.Equal(got, st) {
			t.Fatalf("decodeCalCursor(%d entries) differs from what was encoded", n)
		}
		if n == 1000 {
			t.Logf("1,000 Graph-like ids: cursor of %d bytes", len(c))
			if len(c) > 40*1000 {
				t.Errorf("cursor of %d bytes for 1,000 events: not compact", len(c))
			}
		}
		if _, err := decodeCalCursor("cal-2", c); err == nil {
			t.Errorf("decodeCalCursor(another calendar) = nil error")
		}
	}
	for _, bad := range []string{"", "cal1.", "cal1.!!", "https://graph.microsoft.com/v1.0/x?$deltatoken=1", "cal1.AAAA"} {
		if _, err := decodeCalCursor("cal-1", bad); err == nil {
			t.Errorf("decodeCalCursor(%q) = nil error", bad)
		}
	}
}

func FuzzDecodeCalCursor(f *testing.F) {
	f.Add(encodeCalCursor("c", calState{"a": 1, "ab": 2}))
	f.Add("cal1.")
	f.Add("cal1.eJzLSM3JyVcozy/KSQEAGgQEXQ")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := decodeCalCursor("c", s)
		if err == nil {
			// Whatever decodes encodes back to something that decodes the same.
			again, err := decodeCalCursor("c", encodeCalCursor("c", st))
			if err != nil || !maps.Equal(again, st) {
				t.Fatalf("re-encoding %q: %v", s, err)
			}
		}
	})
}

func TestSetMember(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"id":"1","title":"x"}`, `{"id":"1","title":"x","checklistItems":[1]}`},
		{` {} `, `{"checklistItems":[1]}`},
		{`{"checklistItems":[0],"id":"1"}`, `{"checklistItems":[1],"id":"1"}`},
	} {
		got, err := setMember([]byte(c.in), "checklistItems", json.RawMessage(`[1]`))
		if err != nil || string(got) != c.want {
			t.Errorf("setMember(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := setMember([]byte(`[1]`), "k", json.RawMessage(`1`)); err == nil {
		t.Error("setMember(array) = nil error")
	}
}

func TestFetchOrdered(t *testing.T) {
	var inFlight, peak atomic.Int32
	var got []int
	fetchOrdered(context.Background(), 50, 4, func(ctx context.Context, i int) (int, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		return i * i, nil
	}, func(i, v int, err error) bool {
		if err != nil || v != i*i {
			t.Errorf("emit(%d) = %d, %v", i, v, err)
		}
		got = append(got, i)
		return true
	})
	if len(got) != 50 || got[49] != 49 {
		t.Errorf("emitted %v", got)
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d fetches in flight, want at most 4", p)
	}
	// Stopping early cancels the rest.
	var calls atomic.Int32
	n := 0
	fetchOrdered(context.Background(), 1000, 4, func(ctx context.Context, i int) (int, error) {
		calls.Add(1)
		if i == 3 {
			return 0, errors.New("boom")
		}
		return i, ctx.Err()
	}, func(i, v int, err error) bool {
		n++
		return err == nil
	})
	if n != 4 || calls.Load() > 12 {
		t.Errorf("stopped after %d emits and %d calls", n, calls.Load())
	}
}

func TestEventSelect(t *testing.T) {
	for _, p := range []string{"cancelledOccurrences", "recurrence", "originalStartTimeZone", "subject", "changeKey", "type"} {
		if !strings.Contains(","+eventSelect+",", ","+p+",") {
			t.Errorf("eventSelect lacks %s: %s", p, eventSelect)
		}
	}
	for _, p := range []string{"attachments", "exceptionOccurrences", "instances", "@odata.type"} {
		if strings.Contains(","+eventSelect+",", ","+p+",") {
			t.Errorf("eventSelect has navigation property %s", p)
		}
	}
}
