package reports_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/bascule-migrate/bascule/reports"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

// The run report of a state file, in French, HTML and CSV for French Excel.
func ExampleWriteRun() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "rapport")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "bascule.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rep, err := reports.BuildRun(ctx, store, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := reports.WriteRun(filepath.Join(dir, "rapports"), rep, reports.Options{
		Lang:    reports.French,
		Formats: []reports.Format{reports.HTML, reports.CSV},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range res.Files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// run.html
	// run-kinds.csv
	// run-sizes.csv
	// run-mailboxes.csv
	// run-failures.csv
	// run-runs.csv
	// run-throughput.csv
}
