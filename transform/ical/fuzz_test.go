package ical

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ics "github.com/emersion/go-ical"

	"github.com/bascule-migrate/bascule/model"
)

func seed(f *testing.F, prefix string, task bool) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		if strings.HasPrefix(filepath.Base(file), "task-") != task {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x","type":"seriesMaster","start":{"dateTime":"2024-01-01T00:00:00","timeZone":"UTC"},"recurrence":{"pattern":{"type":"absoluteMonthly","dayOfMonth":31},"range":{"type":"noEnd","startDate":"2024-01-01"}}}`))
	f.Add([]byte(`null`))
}

// fuzzCheck: no panic (the fuzzer reports one), and every success is one calendar that
// go-ical reads back with at least one VEVENT/VTODO carrying the UID.
func fuzzCheck(t *testing.T, res Result, err error) {
	if err != nil {
		return
	}
	cal, derr := ics.NewDecoder(bytes.NewReader(res.Data)).Decode()
	if derr != nil {
		t.Fatalf("output does not parse: %v\n%s", derr, res.Data)
	}
	if res.UID == "" || len(cal.Children) == 0 {
		t.Fatalf("empty result: %q", res.Data)
	}
	for _, line := range bytes.Split(res.Data, []byte("\r\n")) {
		if len(line) > 75 {
			t.Fatalf("line of %d octets", len(line))
		}
	}
}

func FuzzEvent(f *testing.F) {
	seed(f, "event-", false)
	tenantSeeds(f, model.KindCalendar)
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := Event(payload, goldenOptions)
		fuzzCheck(t, res, err)
	})
}

func FuzzTask(f *testing.F) {
	seed(f, "task-", true)
	tenantSeeds(f, model.KindTasks)
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := Task(payload, goldenOptions)
		fuzzCheck(t, res, err)
	})
}
