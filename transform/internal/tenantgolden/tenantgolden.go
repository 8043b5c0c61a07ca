// Package tenantgolden gives the transforms' tests the groupware of the emulator's tenant
// exactly as a run gets it: tenant.Small is generated, served by sim/graph, and every
// calendar, contact folder and To Do list of every mailbox is read through the real
// extractor (extract/graph Collections and Records, from an empty cursor). It is test
// support: only the tests of transform/ical and transform/vcard import it.
package tenantgolden

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/graph"
	"github.com/bascule-migrate/bascule/model"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// Item is one record with where it was read.
type Item struct {
	Mailbox    model.Mailbox
	Collection model.Collection
	Record     model.Record
}

// Name is the item's golden file stem: its kind ("event", "contact", "task") and the first
// 12 hex digits of the SHA-256 of its record id, stable as long as the seeded tenant is.
func (it Item) Name() string {
	kind := map[model.CollectionKind]string{model.KindCalendar: "event", model.KindContacts: "contact",
		model.KindTasks: "task"}[it.Record.Kind]
	if kind == "" {
		kind = string(it.Record.Kind)
	}
	sum := sha256.Sum256([]byte(it.Record.ID))
	return kind + "-" + hex.EncodeToString(sum[:6])
}

// Data is what one reading of the tenant gave.
type Data struct {
	// Tenant is the generated tenant the emulator served (the oracle: Event.Instances...).
	Tenant *tenant.Tenant
	// Items are every record of every collection of every mailbox, in the extractor's order.
	// A collection shared to another mailbox is read from each mailbox that sees it.
	Items []Item
}

// Event finds the tenant's event (single instance or series master) with this id in any
// mailbox.
func (d *Data) Event(id string) (tenant.Event, bool) {
	for _, u := range d.Tenant.Users() {
		if ev, err := d.Tenant.Event(u.ID, id); err == nil {
			return ev, true
		}
	}
	return tenant.Event{}, false
}

// Kind returns the items of one kind.
func (d *Data) Kind(k model.CollectionKind) []Item {
	var out []Item
	for _, it := range d.Items {
		if it.Record.Kind == k {
			out = append(out, it)
		}
	}
	return out
}

var (
	once   sync.Once
	loaded *Data
	errLd  error
)

// Load generates tenant.Small, serves it and reads it once per process (the tests and fuzz
// seeds of a package share the result). The emulator is closed before Load returns.
func Load() (*Data, error) {
	once.Do(func() { loaded, errLd = load() })
	return loaded, errLd
}

const (
	clientID = "bascule-tenantgolden"
	secret   = "tenantgolden-secret"
)

func load() (*Data, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ten := tenant.Generate(tenant.Small())
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: clientID, ClientSecret: secret})
	if err != nil {
		return nil, fmt.Errorf("simgraph.Start: %w", err)
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "tenantgolden")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		return nil, err
	}
	src, err := graph.New(ctx, graph.Config{Endpoint: sim.GraphEndpoint(), AuthorityHost: sim.AuthorityHost(),
		TenantID: sim.TenantID(), ClientID: clientID, ClientSecret: secret, CAFile: ca,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, fmt.Errorf("graph.New: %w", err)
	}
	mbxs, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		return nil, fmt.Errorf("source.Mailboxes: %w", err)
	}
	d := &Data{Tenant: ten}
	for _, mbx := range mbxs {
		cols, err := src.Collections(ctx, mbx, nil)
		if err != nil {
			return nil, fmt.Errorf("source.Collections(%s): %w", mbx.Address, err)
		}
		for _, col := range cols {
			for ch, err := range src.Records(ctx, mbx, col, "") {
				if err != nil {
					return nil, fmt.Errorf("source.Records(%s, %q): %w", mbx.Address, col.Name, err)
				}
				switch ch.Kind {
				case extract.Upsert:
					d.Items = append(d.Items, Item{Mailbox: mbx, Collection: col, Record: ch.Record})
				case extract.Delete:
					return nil, fmt.Errorf("source.Records(%s, %q): a Delete (%s) in a first pass", mbx.Address, col.Name, ch.Record.ID)
				}
			}
		}
	}
	if len(d.Items) == 0 {
		return nil, fmt.Errorf("the tenant gave no groupware record")
	}
	return d, nil
}

// Seed returns a record's payload made small enough to be a fuzz seed: every attachment's
// contentBytes longer than 4 KiB of base64 is cut to its first 4 KiB (still valid base64;
// the size property keeps the original size). Other payloads are returned as they are.
func Seed(payload []byte) []byte {
	const limit = 4 << 10
	if len(payload) <= 64<<10 {
		return payload
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return payload
	}
	cut := func(v any) {
		atts, _ := v.([]any)
		for _, a := range atts {
			if am, ok := a.(map[string]any); ok {
				if s, ok := am["contentBytes"].(string); ok && len(s) > limit {
					am["contentBytes"] = s[:limit]
				}
			}
		}
	}
	cut(m["attachments"])
	if xs, ok := m["exceptionOccurrences"].([]any); ok {
		for _, x := range xs {
			if xm, ok := x.(map[string]any); ok {
				cut(xm["attachments"])
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return out
}

// CompareDir compares the files of dir that match patterns with want, by name (or, when
// update is set, writes want and removes the matching files no longer made): a golden that
// differs, is missing or is made by nothing is an error. The goldens of one directory must
// stay under 2 MiB in all.
func CompareDir(t *testing.T, dir string, want map[string][]byte, update bool, patterns ...string) {
	t.Helper()
	var existing []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, p))
		existing = append(existing, m...)
	}
	total := 0
	for _, b := range want {
		total += len(b)
	}
	if total > 2<<20 {
		t.Errorf("the goldens of %s weigh %d bytes: keep them under 2 MiB", dir, total)
	}
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range existing {
			if _, ok := want[filepath.Base(f)]; !ok {
				os.Remove(f)
			}
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for _, f := range existing {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("%s: made by no record of the tenant (run with -update)", f)
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run with -update)", err)
			continue
		}
		if !bytes.Equal(got, want[name]) {
			t.Errorf("%s differs from what the transform makes now (run with -update and review the diff):\n%s", path, want[name])
		}
	}
}
