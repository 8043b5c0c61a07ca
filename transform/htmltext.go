package transform

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// blocks are the HTML elements that start a new line in the text rendering.
var blocks = map[string]bool{
	"p": true, "div": true, "br": true, "tr": true, "li": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "table": true, "ul": true,
	"ol": true, "hr": true, "dd": true, "dt": true, "section": true, "article": true, "header": true,
	"footer": true, "address": true,
}

// HTMLText renders an HTML body as readable text: block elements and <br> end lines,
// list items get "- ", links keep their target when it differs from their text, entities
// are decoded, scripts, styles and the head are dropped, runs of blank lines are squeezed.
func HTMLText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // depth inside <script>, <style>, <head>, <title>
	pre := 0
	var href []string // targets of the open <a> elements
	var linkStart []int
	newline := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
	}
	for n := 0; n < 1<<20; n++ {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return squeeze(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			raw := string(z.Text())
			t := raw
			if pre == 0 {
				t = strings.Join(strings.Fields(t), " ")
				if t == "" {
					if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") {
						b.WriteByte(' ')
					}
					continue
				}
				if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") && startsWithSpace(raw) {
					b.WriteByte(' ')
				}
			}
			b.WriteString(t)
			if pre == 0 && endsWithSpace(raw) {
				b.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			end := tt == html.EndTagToken
			switch tag {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if end && skip > 0 {
					skip--
				}
				continue
			case "pre":
				if tt == html.StartTagToken {
					pre++
				} else if end && pre > 0 {
					pre--
				}
			case "a":
				if tt == html.StartTagToken {
					target := ""
					for hasAttr {
						var k, v []byte
						k, v, hasAttr = z.TagAttr()
						if string(k) == "href" {
							target = string(v)
						}
					}
					href = append(href, target)
					linkStart = append(linkStart, b.Len())
				} else if end && len(href) > 0 {
					target, start := href[len(href)-1], linkStart[len(linkStart)-1]
					href, linkStart = href[:len(href)-1], linkStart[:len(linkStart)-1]
					text := strings.TrimSpace(b.String()[min(start, b.Len()):])
					if target != "" && !strings.HasPrefix(target, "#") && text != target && strings.TrimPrefix(target, "mailto:") != text {
						b.WriteString(" <" + target + ">")
					}
				}
				continue
			case "img":
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "alt" && len(v) > 0 {
						b.WriteString("[" + string(v) + "]")
					}
				}
				continue
			case "td", "th":
				if end {
					b.WriteByte('\t')
				}
				continue
			}
			if blocks[tag] {
				newline()
				if tag == "p" && end {
					b.WriteByte('\n')
				}
				if tag == "li" && !end {
					b.WriteString("- ")
				}
			}
		}
	}
	return squeeze(b.String())
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

func endsWithSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(r)
}

// squeeze trims trailing spaces of each line and keeps at most one blank line in a row.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		l = strings.TrimLeft(l, " ")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
