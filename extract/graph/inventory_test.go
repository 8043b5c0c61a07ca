package graph

import (
	"strings"
	"testing"
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
