package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// audit prints the audit journal, optionally filtered, as JSON lines or
// CSV. It reads only LOCKBOT_STATE_DIR, so it works beside a running bot
// (the journal is append-only) and needs no other configuration.
func audit(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.Duration("since", 0, "only records newer than this (e.g. 24h); 0 for all")
	asCSV := fs.Bool("csv", false, "print CSV instead of JSON lines")
	target := fs.String("target", "", "only records about this email")
	id := fs.String("id", "", "only records of this request or lock ID")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	dir := getenv("LOCKBOT_STATE_DIR")
	if dir == "" {
		dir = "lockbot-state"
	}
	f, err := os.Open(statePaths(dir).journal)
	if err != nil {
		fmt.Fprintf(stderr, "lockbot audit: %v (is LOCKBOT_STATE_DIR right?)\n", err)
		return exitFailed
	}
	defer f.Close()
	filter := approvals.Filter{Target: *target, ID: *id}
	if *since > 0 {
		filter.Since = time.Now().Add(-*since)
	}
	recs, skipped, err := approvals.ReadJournal(f, filter)
	if err != nil {
		fmt.Fprintf(stderr, "lockbot audit: %v\n", err)
		return exitFailed
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "lockbot audit: skipped %d unreadable line(s) (a torn write after a crash)\n", skipped)
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
