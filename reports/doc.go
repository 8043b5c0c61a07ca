// Package reports renders Bascule's four reports — audit (planner/audit.Report), plan
// (planner/waves.Plan), run (the state store) and verify (planner/verify.Report) — for the
// people who decide: one self-contained HTML file each (inline CSS and SVG charts drawn here
// in Go; no script, no network: a Content-Security-Policy forbids both), CSV tables for
// spreadsheets (UTF-8 with a byte-order mark, RFC 4180 quoting, ',' or ';' for French Excel)
// and one JSON document with a documented schema (docs/REPORTS.md, reports/schema/).
//
// Every word a reader sees comes from the message catalogues messages/en.json and
// messages/fr.json (Localizer): numbers, sizes and dates are formatted per language
// ("12,345.6" / "12 345,6", "24 November 2026" / "24 novembre 2026"). Tests fail when a key
// lacks a translation or when the code or a template uses a key the catalogue lacks.
//
// Each report has a Write function taking the output directory and Options:
//
//	res, err := reports.WriteRun(dir, rep, reports.Options{Lang: reports.French})
//
// Names of folders and people are outside input: html/template escapes them in the page,
// the chart code escapes them in SVG, and CSV cells that a spreadsheet would run as a
// formula are prefixed with a quote.
package reports
