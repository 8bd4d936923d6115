package bot

import (
	"sort"

	"github.com/lockbot/lockbot/approvals"
)

// outcome is what happened to one device when a lock ran.
type outcome string

const (
	outcomeLocked        outcome = "locked"
	outcomeAlreadyLocked outcome = "already_locked"
	outcomeFailed        outcome = "failed"
	outcomeSkipped       outcome = "skipped_dry_run"
	outcomeUnassigned    outcome = "no_longer_assigned"
)

// label is the short human text for an outcome on a card.
func (o outcome) label() string {
	switch o {
	case outcomeLocked:
		return "✅ locked"
	case outcomeAlreadyLocked:
		return "✅ already locked"
	case outcomeFailed:
		return "❌ failed"
	case outcomeSkipped:
		return "⏭️ not locked (dry run)"
	case outcomeUnassigned:
		return "➖ no longer assigned to this person, not locked"
	}
	return string(o)
}

// secured reports whether the device ends up locked (or would, in a dry run).
func (o outcome) secured() bool {
	return o == outcomeLocked || o == outcomeAlreadyLocked
}

// deviceResult is the outcome of locking one device.
type deviceResult struct {
	Device  approvals.Device
	Outcome outcome
	Detail  string // why it failed; never contains a PIN
	PIN     pin    // Mac unlock PIN when known; redacts itself everywhere
}

// lockSummary counts results by outcome.
type lockSummary struct {
	Total, Secured, Failed, Skipped, Unassigned int
}

func summarize(results []deviceResult) lockSummary {
	var s lockSummary
	for _, r := range results {
		s.Total++
		switch {
		case r.Outcome.secured():
			s.Secured++
		case r.Outcome == outcomeFailed:
			s.Failed++
		case r.Outcome == outcomeSkipped:
			s.Skipped++
		case r.Outcome == outcomeUnassigned:
			s.Unassigned++
		}
	}
	return s
}

// ok reports whether every device that is still the person's is secured
// (or skipped by a dry run).
func (s lockSummary) ok() bool { return s.Failed == 0 }

// sortResults orders results by device name then serial so that cards are
// stable however the concurrent locks finished.
func sortResults(rs []deviceResult) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Device.Name != rs[j].Device.Name {
			return rs[i].Device.Name < rs[j].Device.Name
		}
		return rs[i].Device.Serial < rs[j].Device.Serial
	})
}
