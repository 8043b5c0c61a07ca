package transform

import "testing"

func TestRewriter(t *testing.T) {
	r, err := ParseRewrites([]string{"Contoso.com=contoso.fr", " fabrikam.com = fabrikam.eu "})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"alice@contoso.com":         "alice@contoso.fr",
		"Bob.Smith@CONTOSO.COM":     "Bob.Smith@contoso.fr",
		"mailto:carol@fabrikam.com": "mailto:carol@fabrikam.eu",
		"dave@sub.contoso.com":      "dave@sub.contoso.com",
		"no-at-sign":                "no-at-sign",
		"":                          "",
	} {
		if got := r.Address(in); got != want {
			t.Errorf("Address(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (Rewriter{}).Address("a@contoso.com"); got != "a@contoso.com" {
		t.Errorf("zero Rewriter changed %q", got)
	}
	for _, bad := range []string{"contoso.com", "=x", "a@b=c", "x="} {
		if _, err := ParseRewrites([]string{bad}); err == nil {
			t.Errorf("ParseRewrites(%q) accepted", bad)
		}
	}
}
