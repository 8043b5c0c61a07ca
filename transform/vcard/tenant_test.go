package vcard

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	govcard "github.com/emersion/go-vcard"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform/internal/tenantgolden"
)

const tenantDir = "testdata/tenant"

func loadTenant(tb testing.TB) *tenantgolden.Data {
	tb.Helper()
	d, err := tenantgolden.Load()
	if err != nil {
		tb.Fatalf("reading the emulator's tenant: %v", err)
	}
	return d
}

// TestTenant converts every contact of the emulator's tenant, read through the real
// extractor with its photo, to vCard 4.0 and 3.0 and compares each card and the warnings
// with the golden files in testdata/tenant (-update rewrites them); then reads each golden
// back with go-vcard and finds every field of the contact, and its photo, in it (Check).
func TestTenant(t *testing.T) {
	d := loadTenant(t)
	items := d.Kind(model.KindContacts)
	if len(items) < 20 {
		t.Fatalf("only %d contacts in the tenant", len(items))
	}
	type converted struct {
		item     tenantgolden.Item
		cards    map[string]Result // by file suffix
		warnings []string
	}
	byName := map[string]*converted{}
	var names []string
	photos := 0
	for _, it := range items {
		name := it.Name()
		c := &converted{item: it, cards: map[string]Result{}}
		for i, v := range versions {
			res, err := Contact(it.Record.Payload, it.Record.Photo, Options{Version: v.version})
			if err != nil {
				t.Fatalf("%s (%q of %s) %s: %v", name, it.Record.Subject, it.Mailbox.Address, v.version, err)
			}
			c.cards[v.suffix] = res
			if i == 0 {
				c.warnings = res.Warnings
			} else if !slices.Equal(c.warnings, res.Warnings) {
				t.Errorf("%s: warnings differ between versions: %q and %q", name, c.warnings, res.Warnings)
			}
		}
		if prev, ok := byName[name]; ok {
			if prev.item.Record.ID != it.Record.ID {
				t.Fatalf("records %s and %s share the name %s", prev.item.Record.ID, it.Record.ID, name)
			}
			for s, r := range c.cards {
				if !bytes.Equal(prev.cards[s].Data, r.Data) {
					t.Errorf("%s converts differently as read from %s and from %s", name, prev.item.Mailbox.Address, it.Mailbox.Address)
				}
			}
			continue
		}
		if it.Record.Photo != nil {
			photos++
		}
		byName[name] = c
		names = append(names, name)
	}
	sort.Strings(names)
	if photos == 0 {
		t.Errorf("no contact of the tenant has a photo")
	}

	t.Run("golden", func(t *testing.T) {
		files := map[string][]byte{}
		var index strings.Builder
		index.WriteString("# golden\twarnings\tmailbox\tcontact folder\tdisplay name (the emulator's tenant.Small, read through extract/graph)\n")
		for _, name := range names {
			c := byName[name]
			for _, v := range versions {
				files[name+"."+v.suffix+".vcf"] = c.cards[v.suffix].Data
			}
			if len(c.warnings) > 0 {
				files[name+".warnings.txt"] = []byte(strings.Join(c.warnings, "\n") + "\n")
			}
			fmt.Fprintf(&index, "%s\t%d\t%s\t%s\t%s\n", name, len(c.warnings), c.item.Mailbox.Address, c.item.Collection.Name, c.item.Record.Subject)
		}
		files["index.txt"] = []byte(index.String())
		tenantgolden.CompareDir(t, tenantDir, files, *update, "*.vcf", "*.warnings.txt", "index.txt")
	})

	t.Run("readback", func(t *testing.T) {
		for _, name := range names {
			c := byName[name]
			for _, v := range versions {
				file := name + "." + v.suffix + ".vcf"
				data, err := os.ReadFile(filepath.Join(tenantDir, file))
				if err != nil {
					t.Errorf("%v (run with -update)", err)
					continue
				}
				wellFormed(t, Result{Data: data, UID: c.cards[v.suffix].UID})
				card, err := govcard.NewDecoder(bytes.NewReader(data)).Decode()
				if err != nil {
					t.Errorf("%s: %v", file, err)
					continue
				}
				if got := card.Value(govcard.FieldVersion); got != v.version {
					t.Errorf("%s: VERSION %q", file, got)
				}
				if got := card.PreferredValue(govcard.FieldFormattedName); got != c.item.Record.Subject {
					t.Errorf("%s: FN %q, want %q", file, got, c.item.Record.Subject)
				}
				if miss := Check(data, c.item.Record.Payload, c.item.Record.Photo); len(miss) > 0 {
					t.Errorf("%s: fields of the contact not found in the card: %q", file, miss)
				}
			}
		}
	})
}

// tenantSeeds adds the tenant's contacts and their photos to the fuzz seed corpus.
func tenantSeeds(f *testing.F) {
	d, err := tenantgolden.Load()
	if err != nil {
		f.Fatalf("reading the emulator's tenant: %v", err)
	}
	seen := map[string]bool{}
	for _, it := range d.Kind(model.KindContacts) {
		if !seen[it.Record.ID] {
			seen[it.Record.ID] = true
			f.Add(it.Record.Payload, it.Record.Photo)
		}
	}
}
