package ical

import "github.com/bascule-migrate/bascule/transform"

func parseRewrites() (transform.Rewriter, error) {
	return transform.ParseRewrites([]string{"contoso.onmicrosoft.com=contoso.example"})
}
