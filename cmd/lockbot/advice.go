package main

import (
	"fmt"
	"time"
)

// Bounds beyond which a well-formed value is accepted but warned about:
// staging tenants, fakes, drills and negotiated limits need such values,
// so they never stop start-up, but a production deployment rarely wants
// them and the operator should hear so.
const (
	kandjiDocumentedLimit   = 10_000 // requests an hour per tenant, shared by every token
	shortestAdvisedTTL      = time.Minute
	longestAdvisedTTL       = 7 * 24 * time.Hour
	mostAdvisedApprovals    = 10
	shortestAdvisedPoll     = 10 * time.Second
	oktaLogRetention        = 90 * 24 * time.Hour
	shortestAdvisedDeadline = 10 * time.Minute
)

// advise returns one warning per value that is valid but unusual, each
// starting with its variable's name.
func (c *config) advise() []string {
	var w []string
	add := func(format string, a ...any) { w = append(w, fmt.Sprintf(format, a...)) }
	if c.KandjiRateLimit > kandjiDocumentedLimit {
		add("KANDJI_RATE_LIMIT=%d is above Kandji's documented %d requests an hour per tenant, which every API token shares; "+
			"use it only with a limit Kandji agreed to, or against a fake", c.KandjiRateLimit, kandjiDocumentedLimit)
	}
	switch {
	case c.ApprovalTTL > 0 && c.ApprovalTTL < shortestAdvisedTTL:
		add("LOCKBOT_APPROVAL_TTL=%s gives approvers less than a minute to decide; fine for a drill, too short for people", c.ApprovalTTL)
	case c.ApprovalTTL > longestAdvisedTTL:
		add("LOCKBOT_APPROVAL_TTL=%s keeps requests open for more than a week; a stale request is easy to approve by mistake", c.ApprovalTTL)
	}
	if c.Required > mostAdvisedApprovals {
		add("LOCKBOT_REQUIRED_APPROVALS=%d: a lock needs more than %d approvers, which may leave an urgent lock waiting", c.Required, mostAdvisedApprovals)
	}
	if c.CatchupInterval > 0 && c.CatchupInterval < shortestAdvisedPoll {
		add("LOCKBOT_CATCHUP_INTERVAL=%s polls the Okta System Log more often than every %s, which spends the org's /api/v1/logs rate limit",
			c.CatchupInterval, shortestAdvisedPoll)
	}
	if c.kandjiSchemeAdded {
		add("KANDJI_API_URL=%s was given without a scheme (as Kandji's settings page shows it); https:// was added", c.KandjiAPIURL)
	}
	if c.LockDeadline > 0 && c.LockDeadline < shortestAdvisedDeadline {
		add("LOCKBOT_LOCK_DEADLINE=%s gives up on a lock after less than %s of Kandji or Slack trouble; a short outage will then leave devices unlocked", c.LockDeadline, shortestAdvisedDeadline)
	}
	if c.CatchupLookback > oktaLogRetention {
		add("LOCKBOT_CATCHUP_LOOKBACK=%s reaches further back than the 90 days Okta keeps; the first poll starts at 90 days", c.CatchupLookback)
	}
	return w
}
