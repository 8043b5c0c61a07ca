package graph

import (
	"context"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

const usageCSV = "\ufeffReport Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period\n" +
	"2026-11-23,Alice@Contoso.com,Alice,False,,2019-01-01,2026-11-23,1200,52428800,105226698752,106300440576,107374182400,0,0,32212254720,True,7\n" +
	"2026-11-23,gone@contoso.com,Gone,True,2026-11-01,2019-01-01,,0,0,0,0,0,0,0,0,False,7\n" +
	"2026-11-23,bob@contoso.com,Bob,False,,2019-01-01,,10,2048,0,0,53687091200,0,0,0,False,7\n"

func TestParseUsageReport(t *testing.T) {
	rows, asOf, err := parseUsageReport(strings.NewReader(usageCSV))
	if err != nil {
		t.Fatal(err)
	}
	if asOf.Format("2006-01-02") != "2026-11-23" {
		t.Errorf("as of %v", asOf)
	}
	a, ok := rows["alice@contoso.com"]
	if !ok || !a.archive || a.items != 1200 || a.used != 52428800 || a.quota != 107374182400 {
		t.Errorf("alice: %+v, %v", a, ok)
	}
	if b := rows["bob@contoso.com"]; b.archive || b.quota != 53687091200 {
		t.Errorf("bob: %+v", b)
	}
	if _, ok := rows["gone@contoso.com"]; ok {
		t.Error("a deleted mailbox is listed")
	}
	if _, _, err := parseUsageReport(strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Error("a CSV without the User Principal Name column is accepted")
	}
}

func TestPropInt(t *testing.T) {
	props := []extProp{{ID: "Integer 0x1081", Value: "102"}, {ID: "Long 0xe08", Value: "12345"}}
	if v, ok := propInt(props, "0x0e08"); !ok || v != 12345 {
		t.Errorf("0x0E08 = %d, %v", v, ok)
	}
	if _, ok := propInt(props, "0x3602"); ok {
		t.Error("an absent property is found")
	}
}

func FuzzParseUsageReport(f *testing.F) {
	f.Add(usageCSV)
	f.Add("User Principal Name\n\"unterminated\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		rows, _, err := parseUsageReport(strings.NewReader(s))
		if err == nil && rows == nil {
			t.Error("nil rows without an error")
		}
	})
}

// TestSeriesCountedBothWays: the series of every calendar, counted through the type filter
// and over every event (the fallback when Graph refuses the filter), agree with the tenant.
func TestSeriesCountedBothWays(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	ctx := context.Background()
	for _, u := range e.ten.Users() {
		mbx := model.Mailbox{ID: u.ID, Address: u.UPN}
		for _, c := range e.ten.Calendars(u.ID) {
			var series, excepts int64
			for _, ev := range e.ten.Events(u.ID, c.ID) {
				if ev.Type == "seriesMaster" {
					series++
					excepts += int64(len(ev.Exceptions))
				}
			}
			s1, x1, err := src.SeriesStats(ctx, mbx, extract.FolderStat{ID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			s2, x2, err := src.countSeries(ctx, mbx, src.rawURL("users", u.ID, "calendars", c.ID, "events")+"?"+
				odataQuery("$select", "id,type", "$expand", "exceptionOccurrences($select=id)", "$top", "100"))
			if err != nil {
				t.Fatal(err)
			}
			if s1 != series || x1 != excepts || s2 != series || x2 != excepts {
				t.Errorf("%s %s: filtered %d/%d, every event %d/%d; the tenant has %d series, %d exceptions", u.UPN, c.Name, s1, x1, s2, x2, series, excepts)
			}
		}
	}
}
