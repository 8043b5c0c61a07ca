package vcard

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	govcard "github.com/emersion/go-vcard"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCases are the payloads in testdata. doc-sample is shaped like the response of
// Microsoft's "Get contact" page (learn.microsoft.com/graph/api/contact-get, v1.0): OData
// annotations, nulls, empty arrays, {} for the addresses, a name equal to the address.
var goldenCases = []struct {
	name  string
	photo string // file in testdata, "" for none
}{
	{"doc-sample", ""},
	{"full", "photo.jpg"},
	{"hostile", "photo.png"},
	{"noname", ""},
	{"noyear", "photo.jpg"},
	{"uncarried", ""},
}

var versions = []struct{ version, suffix string }{{V4, "v4"}, {V3, "v3"}}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// wellFormed checks what every card must satisfy, whatever its payload.
func wellFormed(t testing.TB, res Result) {
	t.Helper()
	data := res.Data
	if !utf8.Valid(data) {
		t.Fatalf("card is not valid UTF-8")
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) || bytes.Count(data, []byte("\n")) != bytes.Count(data, []byte("\r\n")) {
		t.Fatalf("card lines do not all end in CRLF")
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("line longer than 75 octets: %q", l)
		}
		if strings.ContainsRune(l, '\r') {
			t.Fatalf("bare CR in %q", l)
		}
	}
	c, err := govcard.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("go-vcard cannot parse the card: %v\n%s", err, data)
	}
	if c.Get(govcard.FieldFormattedName) == nil {
		t.Fatalf("no FN:\n%s", data)
	}
	if got := c.Value(govcard.FieldUID); got != res.UID || !strings.HasPrefix(got, "urn:uuid:") {
		t.Fatalf("UID = %q, Result.UID = %q", got, res.UID)
	}
	if c.Get(govcard.FieldName) == nil || c.Value(govcard.FieldVersion) == "" {
		t.Fatalf("no N or no VERSION:\n%s", data)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		payload, photo := readTestdata(t, tc.name+".json"), readTestdata(t, tc.photo)
		var warnings []string
		for _, v := range versions {
			t.Run(tc.name+"/"+v.suffix, func(t *testing.T) {
				res, err := Contact(payload, photo, Options{Version: v.version})
				if err != nil {
					t.Fatalf("Contact: %v", err)
				}
				wellFormed(t, res)
				if !bytes.HasPrefix(res.Data, []byte("BEGIN:VCARD\r\nVERSION:"+v.version+"\r\n")) {
					t.Errorf("card does not start with BEGIN and VERSION %s", v.version)
				}
				golden(t, tc.name+"."+v.suffix+".vcf", res.Data)
				if warnings == nil {
					warnings = append([]string{}, res.Warnings...)
					var text string
					for _, w := range res.Warnings {
						text += w + "\n"
					}
					golden(t, tc.name+".warnings", []byte(text))
				} else if !slices.Equal(warnings, res.Warnings) {
					t.Errorf("warnings differ between versions: %q and %q", warnings, res.Warnings)
				}
			})
		}
	}
}

// TestRoundTrip: every field of each golden payload is found again by Check, in 4.0 and 3.0,
// in the card as written and in the card as a server might give it back.
func TestRoundTrip(t *testing.T) {
	for _, tc := range goldenCases {
		payload, photo := readTestdata(t, tc.name+".json"), readTestdata(t, tc.photo)
		fields, err := Fields(payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			t.Run(tc.name+"/"+v.suffix, func(t *testing.T) {
				res, err := Contact(payload, photo, Options{Version: v.version})
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				if tc.name == "uncarried" {
					// The one field a vCard cannot hold: a name with no address.
					want = []string{`emailAddresses[0].name "Avery (no address)" not found`}
				}
				if got := Check(res.Data, payload, photo); !slices.Equal(got, want) {
					t.Errorf("Check = %q, want %q\n%s", got, want, res.Data)
				}
				if got := Check(serverLike(res.Data), payload, photo); !slices.Equal(got, want) {
					t.Errorf("Check of the reshuffled card = %q, want %q\n%s", got, want, serverLike(res.Data))
				}
				if len(fields) < 3 {
					t.Errorf("Fields = %v: too few", fields)
				}
			})
		}
	}
}

// serverLike reshapes a card the ways servers do on store: properties in another order,
// folded elsewhere with LF and tabs, parameter names and types in another case, a 4.0
// PHOTO data: URI turned into 3.0 ENCODING=b, properties of their own.
func serverLike(card []byte) []byte {
	unfolded := strings.ReplaceAll(string(card), "\r\n ", "")
	lines := strings.Split(strings.TrimSuffix(unfolded, "\r\n"), "\r\n")
	body := lines[2 : len(lines)-1] // between VERSION and END
	slices.Reverse(body)
	paramRE := regexp.MustCompile(`;([A-Z-]+)=([^;:]*)`)
	var out []string
	out = append(out, "begin:vcard", lines[1], "X-CYRUS-SOMETHING;X-FOO=bar:added by the server")
	for _, l := range body {
		colon := strings.IndexByte(l, ':')
		head, value := l[:colon], l[colon:]
		head = paramRE.ReplaceAllStringFunc(head, func(s string) string {
			m := paramRE.FindStringSubmatch(s)
			return ";" + strings.ToLower(m[1]) + "=" + swapCase(m[2])
		})
		if strings.HasPrefix(head, "PHOTO") && strings.HasPrefix(value, ":data:") {
			_, b64, _ := strings.Cut(value, `\,`)
			head, value = "PHOTO;ENCODING=BASE64;TYPE=jpeg", ":"+b64
		}
		out = append(out, head+value)
	}
	out = append(out, "END:VCARD")
	var b strings.Builder
	for _, l := range out {
		for len(l) > 40 {
			cut := 40
			for !utf8.RuneStart(l[cut]) {
				cut--
			}
			b.WriteString(l[:cut] + "\n\t")
			l = l[cut:]
		}
		b.WriteString(l + "\n")
	}
	return []byte(b.String())
}

func swapCase(s string) string {
	if strings.ToLower(s) == s {
		return strings.ToUpper(s)
	}
	return strings.ToLower(s)
}

// TestCheckReportsMissing removes each property from the card in turn: Check must notice
// every one (only PRODID and KIND carry no field of the payload).
func TestCheckReportsMissing(t *testing.T) {
	for _, name := range []string{"full", "hostile"} {
		payload := readTestdata(t, name+".json")
		photo := readTestdata(t, "photo.png")
		for _, v := range versions {
			res, err := Contact(payload, photo, Options{Version: v.version})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.ReplaceAll(string(res.Data), "\r\n ", ""), "\r\n")
			for i, l := range lines {
				if l == "" || strings.HasPrefix(l, "BEGIN:") || strings.HasPrefix(l, "END:") ||
					strings.HasPrefix(l, "VERSION:") || strings.HasPrefix(l, "PRODID:") || strings.HasPrefix(l, "KIND:") {
					continue
				}
				cut := slices.Concat(lines[:i], lines[i+1:])
				if got := Check([]byte(strings.Join(cut, "\r\n")), payload, photo); len(got) == 0 {
					t.Errorf("%s %s: Check found everything with %q removed", name, v.suffix, l)
				}
			}
		}
	}

	payload := readTestdata(t, "full.json")
	res, err := Contact(payload, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"Prefers calls after 10am.", "Prefers calls after 11am.", "personalNotes"},
		{"TYPE=home,voice:+1 425 555 0110", "TYPE=work,voice:+1 425 555 0110", "homePhones[0]"},
		{"BDAY:19781105", "BDAY:19781104", "birthday"},
		{"REV:20240229T174512Z", "REV:20240229T174513Z", "lastModifiedDateTime"},
		{"PREF=1:patrick", "PREF=9:patrick", "is not the preferred EMAIL"},
		{"email1.X-MS-EMAIL-NAME", "email7.X-MS-EMAIL-NAME", "emailAddresses[0].name"},
		{"Contoso Ltd;Finance", "Contoso Ltd;Financial", "department"},
	} {
		changed := strings.Replace(string(res.Data), tc.from, tc.to, 1)
		if changed == string(res.Data) {
			t.Fatalf("%q is not in the card:\n%s", tc.from, res.Data)
		}
		got := Check([]byte(changed), payload, nil)
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("with %q → %q: Check = %q, want one line about %s", tc.from, tc.to, got, tc.want)
		}
	}
	// A photo that differs by one byte is not the photo.
	photo := readTestdata(t, "photo.jpg")
	res, err = Contact(payload, photo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(photo)
	other[len(other)/2] ^= 1
	if got := Check(res.Data, payload, other); len(got) != 1 || !strings.HasPrefix(got[0], "photo") {
		t.Errorf("Check with another photo = %q", got)
	}
	if got := Check(res.Data, payload, nil); len(got) != 0 {
		t.Errorf("Check without a photo = %q", got)
	}
	if got := Check([]byte("not a card"), payload, nil); len(got) != 1 {
		t.Errorf("Check of garbage = %q", got)
	}
}

func TestFields(t *testing.T) {
	fields, err := Fields(readTestdata(t, "doc-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{
		{"id", "AAMkADc4NzE4ZDVlLWQ0ZDgtNGFkMS05MjM0LWE5ZWNiZGU3ZGUzMwBGAAAAAADxk2Pq5V1dTKQw3eVqzHsYBwB4kZ3q8oTRQ6c-UuHk1T9KAAAAAAEOAAB4kZ3q8oTRQ6c-UuHk1T9KAAAbcQ9XAAA="},
		{"displayName", "Megan Bowen"},
		{"surname", "Bowen"},
		{"givenName", "Megan"},
		{"emailAddresses[0].address", "MeganB@M365x214355.onmicrosoft.com"},
		{"createdDateTime", "2023-03-14T09:26:53Z"},
		{"lastModifiedDateTime", "2023-03-14T09:26:54Z"},
	}
	if !slices.Equal(fields, want) {
		t.Errorf("Fields =\n%v\nwant\n%v", fields, want)
	}
	full, err := Fields(readTestdata(t, "full.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Every property of the resource that full.json fills, but changeKey and parentFolderId.
	names := map[string]bool{}
	for _, f := range full {
		names[regexp.MustCompile(`[\[.].*`).ReplaceAllString(f.Name, "")] = true
	}
	for _, p := range []string{"assistantName", "birthday", "businessAddress", "businessHomePage", "businessPhones",
		"categories", "children", "companyName", "createdDateTime", "department", "displayName", "emailAddresses",
		"fileAs", "generation", "givenName", "homeAddress", "homePhones", "id", "imAddresses", "initials", "jobTitle",
		"lastModifiedDateTime", "manager", "middleName", "mobilePhone", "nickName", "officeLocation", "otherAddress",
		"personalNotes", "profession", "spouseName", "surname", "title", "yomiCompanyName", "yomiGivenName", "yomiSurname"} {
		if !names[p] {
			t.Errorf("Fields(full.json) lacks %s", p)
		}
	}
	if len(names) != 36 {
		t.Errorf("Fields(full.json) names %d properties, want 36: %v", len(names), names)
	}
}

func TestRewrite(t *testing.T) {
	rw, err := transform.ParseRewrites([]string{"old.example=new.example"})
	if err != nil {
		t.Fatal(err)
	}
	payload := readTestdata(t, "hostile.json")
	opt := Options{Rewrite: rw}
	res, err := Contact(payload, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	card := string(res.Data)
	if strings.Contains(card, "old.example") || !strings.Contains(card, "h.girard@new.example") || !strings.Contains(card, "labo@new.example") {
		t.Errorf("addresses not rewritten:\n%s", card)
	}
	if !strings.Contains(card, "helene@exemple.fr") {
		t.Errorf("an address of another domain changed:\n%s", card)
	}
	if got := CheckWith(res.Data, payload, nil, opt); len(got) != 0 {
		t.Errorf("CheckWith = %q", got)
	}
	if got := Check(res.Data, payload, nil); len(got) != 3 { // two addresses, one name tied to one
		t.Errorf("Check without the rewrite = %q, want the two old addresses and one name", got)
	}
}

func TestBirthday(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	for _, zone := range []string{"UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		time.Local = loc // kiota reads a timestamp without an offset in the local zone
		for _, tc := range []struct{ in, v4, v3 string }{
			{"2000-01-01T00:00:00Z", "BDAY:20000101", "BDAY:2000-01-01"},
			{"1999-12-31T23:59:59Z", "BDAY:19991231", "BDAY:1999-12-31"},
			{"2000-01-01T00:00:00+14:00", "BDAY:20000101", "BDAY:2000-01-01"},
			{"1999-12-31T00:00:00-11:00", "BDAY:19991231", "BDAY:1999-12-31"},
			{"2000-02-29T00:00:00", "BDAY:20000229", "BDAY:2000-02-29"},
			{"1604-02-29T00:00:00Z", "BDAY:--0229", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29"},
		} {
			payload := []byte(`{"id":"b","displayName":"B","birthday":"` + tc.in + `"}`)
			for _, v := range []struct{ version, want string }{{V4, tc.v4}, {V3, tc.v3}} {
				res, err := Contact(payload, nil, Options{Version: v.version})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(res.Data), "\r\n"+v.want+"\r\n") {
					t.Errorf("%s, %s, in %s: want %s in\n%s", tc.in, v.version, zone, v.want, res.Data)
				}
				if got := Check(res.Data, payload, nil); len(got) != 0 {
					t.Errorf("%s, %s: Check = %q", tc.in, v.version, got)
				}
			}
		}
	}
}

func TestHugeNote(t *testing.T) {
	var note strings.Builder
	for note.Len() < 512<<10 { // go-vcard's decoder is quadratic in folded lines: keep it fast
		fmt.Fprintf(&note, "ligne %d; é, 日本語 🎉 \\ fin\r\n", note.Len())
	}
	payload := fmt.Appendf(nil, `{"id":"huge","displayName":"Huge","personalNotes":%q}`, note.String())
	for _, v := range versions {
		res, err := Contact(payload, nil, Options{Version: v.version})
		if err != nil {
			t.Fatal(err)
		}
		wellFormed(t, res)
		if got := Check(res.Data, payload, nil); len(got) != 0 {
			t.Errorf("%s: Check = %q", v.version, got)
		}
		pc, err := parseCard(res.Data)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pc.all("NOTE")[0].text(), strings.ReplaceAll(note.String(), "\r\n", "\n"); got != want {
			t.Errorf("%s: the note came back with %d bytes, want %d", v.version, len(got), len(want))
		}
	}
}

func TestPhoto(t *testing.T) {
	payload := []byte(`{"id":"p","displayName":"P"}`)
	for _, tc := range []struct{ file, v4, v3 string }{
		{"photo.jpg", `PHOTO:data:image/jpeg;base64\,/9j/`, "PHOTO;ENCODING=b;TYPE=JPEG:/9j/"},
		{"photo.png", `PHOTO:data:image/png;base64\,iVBORw0KGgo`, "PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo"},
	} {
		photo := readTestdata(t, tc.file)
		for _, v := range []struct{ version, want string }{{V4, tc.v4}, {V3, tc.v3}} {
			res, err := Contact(payload, photo, Options{Version: v.version})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Data), "\r\n"+v.want) || len(res.Warnings) != 0 {
				t.Errorf("%s %s: want %s…, no warnings (%q) in\n%s", tc.file, v.version, v.want, res.Warnings, res.Data)
			}
			if got := Check(res.Data, payload, photo); len(got) != 0 {
				t.Errorf("%s %s: Check = %q", tc.file, v.version, got)
			}
		}
	}
	res, err := Contact(payload, []byte("not an image at all"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(string(res.Data), `data:application/octet-stream;base64\,`) {
		t.Errorf("unknown photo bytes: warnings %q, card\n%s", res.Warnings, res.Data)
	}
	if got := Check(res.Data, payload, []byte("not an image at all")); len(got) != 0 {
		t.Errorf("Check = %q", got)
	}
}

func TestUID(t *testing.T) {
	a, b := UID("AAMkAGI2TAAA="), UID("AAMkAGI2TAAB=")
	if a != UID("AAMkAGI2TAAA=") || a == b {
		t.Errorf("UID not stable or not distinct: %s %s", a, b)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("UID %s is not a version 5 URN UUID", a)
	}
	// Graph ids are case-sensitive.
	if UID("AAMkAGI2TAAA=") == UID("aamkagi2taaa=") {
		t.Errorf("UID folds case")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		payload string
		opt     Options
	}{
		{``, Options{}},
		{`{`, Options{}},
		{`null`, Options{}},
		{`[]`, Options{}},
		{`"x"`, Options{}},
		{`{"displayName":"no id"}`, Options{}},
		{`{"id":"x","givenName":5}`, Options{}},
		{`{"id":"x","birthday":"yesterday"}`, Options{}},
		{`{"id":"x"}`, Options{Version: "2.1"}},
	} {
		_, err := Contact([]byte(tc.payload), nil, tc.opt)
		if !errors.Is(err, model.ErrPermanent) {
			t.Errorf("Contact(%q, %+v) = %v, want a permanent error", tc.payload, tc.opt, err)
		}
	}
}

// FuzzContact: no input panics; every card made is well formed; and when Contact warned
// about nothing, Check finds every field again.
func FuzzContact(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(readTestdata(f, tc.name+".json"), readTestdata(f, tc.photo))
	}
	tenantSeeds(f)
	f.Add([]byte(`{"id":"x","emailAddresses":[null,{"address":"a@b"}],"businessPhones":[null,"1"]}`), []byte{})
	f.Add([]byte(`{"id":"x","homeAddress":null,"birthday":"0001-01-01T00:00:00Z","categories":[",",";","\\"]}`), []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, payload, photo []byte) {
		for _, v := range versions {
			res, err := Contact(payload, photo, Options{Version: v.version})
			if err != nil {
				if !errors.Is(err, model.ErrPermanent) {
					t.Fatalf("error not classified: %v", err)
				}
				continue
			}
			wellFormed(t, res)
			if len(res.Warnings) == 0 {
				if got := Check(res.Data, payload, photo); len(got) != 0 {
					t.Fatalf("%s: Check = %q for\n%s\n%s", v.version, got, payload, res.Data)
				}
			}
		}
	})
}
