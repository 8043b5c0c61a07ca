// Package reports will render audit, plan, run and verify reports as self-contained HTML,
// CSV and JSON in English and French (issue 6). Today a run's result is printed by
// cmd/bascule as text or JSON (planner.Result).
package reports
