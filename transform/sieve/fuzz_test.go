package sieve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// FuzzScript feeds arbitrary rule payloads and out-of-office texts: Script must never panic,
// and every script it returns without error must compile (Pigeonhole's sievec, when
// installed; its absence only skips the compile).
func FuzzScript(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		rules, _, _ := loadCase(f, file)
		for _, r := range rules {
			f.Add(string(r.Payload), "<p>away</p>", "scheduled", "all")
		}
	}
	f.Add(`{"conditions":{"subjectContains":["\u0000\"\\"],"headerContains":["A: b\nc"]},"actions":{"forwardTo":[{"emailAddress":{"address":"a\"b@c.d"}}]}}`, "\x00\r\n\"\\", "alwaysEnabled", "contactsOnly")
	f.Add(`{"conditions":{"withinSizeRange":{"minimumSize":2147483647,"maximumSize":-1}},"actions":{"moveToFolder":"AAMk-projects"}}`, "", "scheduled", "none")
	_, haveSievec := os.Stat(pigeonholeSievec)
	opt := Options{Folders: map[string]string{"AAMk-projects": "Projects", "AAMk-fr": "Été/“x”"}, Addresses: []string{"alice@contoso.com"}}
	f.Fuzz(func(t *testing.T, payload, text, status, audience string) {
		ar := &model.AutoReply{Status: status, ExternalAudience: audience, InternalReply: text, ExternalReply: text,
			Start: time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC), End: time.Date(2024, 7, 2, 8, 0, 0, 0, time.UTC)}
		rules := []model.Rule{{ID: "r", Name: text, Sequence: 1, Enabled: true, Payload: []byte(payload)}}
		res, err := Script(rules, ar, opt)
		if err != nil {
			return
		}
		if res.Rules+len(res.Unmapped) != 1 {
			t.Fatalf("the rule is neither carried nor unmapped: %+v", res)
		}
		if len(res.Script) == 0 || haveSievec != nil {
			return
		}
		if err := compileWith(pigeonholeSievec, "fuzz", res.Script); err != nil && !strings.Contains(err.Error(), "not installed") {
			t.Fatalf("sievec refused the script: %v\n%s", err, numbered(res.Script))
		}
	})
}
