// Package storetest is the conformance suite of approvals.Store: every
// store lockbot ships passes it, so the domain can rely on one behaviour
// whatever keeps its records. It checks atomic updates and two-person
// decisions under races, task claims (each task runs once, retries,
// schedules, survives a restart), dedupe of triggers and deliveries, the
// journal, posts, queries, and that committed work survives a reopen
// while an aborted transaction leaves nothing behind. For a store that
// several processes share, it checks the same races across replicas, that
// each task runs once with every replica working, that a lease has one
// holder at a time and moves when released, and that a task whose replica
// died is run by another.
//
// A store's own tests call Run with a Harness that opens fresh stores.
package storetest

import (
	"testing"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// Harness opens the stores the suite runs against.
type Harness struct {
	// New opens a fresh, empty store; the suite closes it.
	New func(t *testing.T) approvals.Store
	// Reopen closes s and opens the same data again, as a restart does. nil
	// skips the tests of what survives a restart.
	Reopen func(t *testing.T, s approvals.Store) approvals.Store
	// Share opens a second, independent handle on the data of s while s
	// stays open, as another replica (another process) would; the suite
	// closes it. nil, for a store only one process opens at a time, skips
	// the tests of replicas.
	Share func(t *testing.T, s approvals.Store) approvals.Store
	// Takeover bounds how long a shared store takes to move a released
	// lease, or a task whose replica closed under it, to another replica
	// (0: the suite's general bound). Stores pass their test timings.
	Takeover time.Duration
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("Requests", func(t *testing.T) { testRequests(t, h) })
	t.Run("AbortedUpdateLeavesNothing", func(t *testing.T) { testAborted(t, h) })
	t.Run("ViewRefusesWrites", func(t *testing.T) { testView(t, h) })
	t.Run("NoLostUpdates", func(t *testing.T) { testNoLostUpdates(t, h) })
	t.Run("TwoPersonDecisions", func(t *testing.T) { testDecisions(t, h) })
	t.Run("DecisionRaces", func(t *testing.T) { testDecisionRaces(t, h) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, h) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, h) })
	t.Run("Triggers", func(t *testing.T) { testTriggers(t, h) })
	t.Run("Once", func(t *testing.T) { testOnce(t, h) })
	t.Run("Posts", func(t *testing.T) { testPosts(t, h) })
	t.Run("PostsTakeTurns", func(t *testing.T) { testPostsTakeTurns(t, h) })
	t.Run("Journal", func(t *testing.T) { testJournal(t, h) })
	t.Run("Values", func(t *testing.T) { testValues(t, h) })
	t.Run("Tasks", func(t *testing.T) { testTasks(t, h) })
	t.Run("TaskRetries", func(t *testing.T) { testTaskRetries(t, h) })
	t.Run("TaskSchedule", func(t *testing.T) { testTaskSchedule(t, h) })
	t.Run("TaskConcurrency", func(t *testing.T) { testTaskConcurrency(t, h) })
	t.Run("Lead", func(t *testing.T) { testLead(t, h) })
	if h.Reopen != nil {
		t.Run("SurvivesReopen", func(t *testing.T) { testReopen(t, h) })
		t.Run("TasksSurviveReopen", func(t *testing.T) { testTasksReopen(t, h) })
	}
	if h.Share != nil {
		t.Run("Replicas", func(t *testing.T) { testReplicas(t, h) })
	}
}

// open is h.New with the store closed at the end of the test.
func open(t *testing.T, h Harness) approvals.Store {
	t.Helper()
	s := h.New(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
