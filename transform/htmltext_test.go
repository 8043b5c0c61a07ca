package transform

import "testing"

func TestHTMLText(t *testing.T) {
	for in, want := range map[string]string{
		`<html><head><style>p{}</style></head><body><p>Bonjour,</p><p>Je suis absente jusqu&#39;au <b>3</b>&nbsp;janvier.</p></body></html>`: "Bonjour,\n\nJe suis absente jusqu'au 3 janvier.",
		`<ul><li>un</li><li>deux</li></ul>`:               "- un\n- deux",
		`Voir <a href="https://x.example/a">le site</a>.`: "Voir le site <https://x.example/a>.",
		`<a href="mailto:a@b.example">a@b.example</a>`:    "a@b.example",
		`<pre>a  b
c</pre>`: "a  b\nc",
		`<script>alert(1)</script>texte`: "texte",
		``:                               "",
	} {
		if got := HTMLText(in); got != want {
			t.Errorf("HTMLText(%q) = %q, want %q", in, got, want)
		}
	}
}
