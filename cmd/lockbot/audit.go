package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/sqlite"
)

// openJournal opens the store audit reads: the shared database when
// LOCKBOT_DATABASE_URL is set, else the embedded store of
// LOCKBOT_STATE_DIR for reading only, without its lock.
func openJournal(ctx context.Context, getenv func(string) string) (approvals.Store, error) {
	if url := getenv("LOCKBOT_DATABASE_URL"); url != "" {
		if err := checkDatabaseURL(url); err != nil {
			return nil, fmt.Errorf("LOCKBOT_DATABASE_URL %v", err)
		}
		return postgres.Open(ctx, url, postgres.Options{})
	}
	dir := getenv("LOCKBOT_STATE_DIR")
	if dir == "" {
		dir = "lockbot-state"
	}
	return sqlite.OpenReadOnly(ctx, dir, sqlite.Options{})
}

// audit prints the audit journal, optionally filtered, as JSON lines or
// CSV. It works beside running bots, and needs no other configuration.
func audit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.Duration("since", 0, "only records newer than this (e.g. 24h); 0 for all")
	asCSV := fs.Bool("csv", false, "print CSV instead of JSON lines")
	target := fs.String("target", "", "only records about this email")
	id := fs.String("id", "", "only records of this request, lock or event ID")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	s, err := openJournal(ctx, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "lockbot audit: %v\n", err)
		return exitFailed
	}
	defer s.Close()
	filter := approvals.Filter{Target: *target, ID: *id}
	if *since > 0 {
		filter.Since = time.Now().Add(-*since)
	}
	var recs []approvals.Record
	if err := s.View(ctx, func(tx approvals.Tx) error {
		var err error
		recs, err = tx.Records(filter, 0)
		return err
	}); err != nil {
		fmt.Fprintf(stderr, "lockbot audit: %v\n", err)
		return exitFailed
	}
	if *asCSV {
		err = approvals.WriteCSV(stdout, recs)
	} else {
		enc := json.NewEncoder(stdout)
		for _, r := range recs {
			if err = enc.Encode(r); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lockbot audit: %v\n", err)
		return exitFailed
	}
	return exitOK
}
