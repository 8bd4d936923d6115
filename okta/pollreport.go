package okta

import "time"

// defaultFailingAfter is how many polls in a row must fail before a
// PollReport says Failing.
const defaultFailingAfter = 3

// PollReport is the outcome of one catch-up poll, for metrics and alerts:
// a catch-up that fails every poll (an expired token, a cursor Okta keeps
// refusing) must not fail silently.
type PollReport struct {
	// Err is the poll's error, nil on success.
	Err error
	// Recovered is how many events the poll newly admitted (a failed poll
	// may still have admitted some before failing).
	Recovered int
	// ConsecutiveFailures counts the failed polls in a row, this one
	// included; 0 after a success.
	ConsecutiveFailures int
	// LastSuccess is when a poll last succeeded, on the catch-up's clock;
	// zero if none has since the process started.
	LastSuccess time.Time
	// Failing is set on exactly one report per outage: the one whose
	// ConsecutiveFailures reaches CatchupConfig.FailingAfter. Post the
	// alert on it.
	Failing bool
	// Restored is set on the first successful poll after a Failing
	// report, to say polling works again.
	Restored bool
}

// pollHealth turns poll outcomes into PollReports.
type pollHealth struct {
	failingAfter int
	failures     int
	lastSuccess  time.Time
	failing      bool
}

// record folds one poll outcome in and returns its report.
func (h *pollHealth) record(at time.Time, recovered int, err error) PollReport {
	r := PollReport{Err: err, Recovered: recovered}
	if err != nil {
		h.failures++
		if h.failures == h.failingAfter {
			r.Failing, h.failing = true, true
		}
	} else {
		r.Restored = h.failing
		h.failures, h.failing, h.lastSuccess = 0, false, at
	}
	r.ConsecutiveFailures, r.LastSuccess = h.failures, h.lastSuccess
	return r
}
