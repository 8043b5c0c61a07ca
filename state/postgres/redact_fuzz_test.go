package postgres

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzRedact: any DSN-like input is handled without panic, and a password written as one
// (URL user info, or password= in key/value form) never survives Redact.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"postgres://u:p@h:5432/db?sslmode=disable",
		"postgresql://u@h/db?password=p",
		"host=h user=u password='p q' dbname=d",
		"postgres://u:p@[::1/db",
		"postgres://:@/",
		"password=",
		"",
	} {
		f.Add(s, "Zq9SECRETxK")
	}
	f.Fuzz(func(t *testing.T, dsn, secret string) {
		_ = Redact(dsn)
		_ = IsDSN(dsn)
		_ = dsnPassword(dsn)
		// Passwords as they appear unquoted and unescaped in a DSN: letters, digits, - _ . ~
		if len(secret) < 6 || strings.Contains(dsn, secret) || strings.Contains(Redact(dsn), secret) || strings.Contains("xxxxx", secret) || strings.Contains(secret, "xxxxx") ||
			strings.IndexFunc(secret, func(r rune) bool {
				return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.~", r))
			}) >= 0 {
			return
		}
		for _, d := range []string{
			"postgres://user:" + secret + "@db.example.org:5432/bascule?sslmode=require",
			"postgresql://user@db/bascule?password=" + secret,
			"host=db user=u password=" + secret + " dbname=d",
			dsn + " password=" + secret,
		} {
			if r := Redact(d); strings.Contains(r, secret) {
				t.Errorf("Redact(%q) = %q keeps the password", d, r)
			}
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=disable":            "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://u@h:5432/db?application_name=a@b":          "postgres://u@h:5432/db?application_name=a@b",
		"postgres://h:5432/db":                                 "postgres://h:5432/db",
		"postgresql://u@h/db?password=pw&sslmode=require":      "postgresql://u@h/db?password=xxxxx&sslmode=require",
		"host=h user=u password='p w' dbname=d":                "host=h user=u password=xxxxx dbname=d",
		"postgres://u:p%40ss@[::1/db":                          "postgres://u:xxxxx@[::1/db",
		"postgres://u:pw@h/db?sslmode=disable password=secret": "postgres://u:xxxxx@h/db?sslmode=disable password=xxxxx",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
