package lockflow

import (
	"context"
	"sync"

	"github.com/lockbot/lockbot/okta"
)

// admitGroup commits concurrent admissions together. Under an offboarding
// burst Okta sends hundreds of deliveries a second; one transaction each
// would cost one fsync each, and the hook's replies would queue behind
// them. Instead the first caller commits everything that arrived while the
// previous transaction ran, in one transaction, then hands the next batch
// to the first caller waiting. No goroutine outlives a call.
type admitGroup struct {
	mu    sync.Mutex
	busy  bool // a caller is committing
	queue []*admitCall
}

// admitCall is one Admit waiting for its batch.
type admitCall struct {
	ctx      context.Context
	evs      []okta.Event
	admitted []okta.Event
	err      error
	// wake is sent to when the call is finished or becomes the committer;
	// finished tells which.
	wake     chan struct{}
	finished bool
}

// do queues evs and returns once a transaction run by commit has decided
// them. commit must set admitted or err on every call of the batch; a call
// whose context ended before its batch formed is not in any batch and
// fails with the context's error.
func (g *admitGroup) do(ctx context.Context, evs []okta.Event, commit func([]*admitCall)) ([]okta.Event, error) {
	c := &admitCall{ctx: ctx, evs: evs, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.busy {
		g.mu.Unlock()
		// No select on ctx: the call is queued and its batch forms as soon
		// as the transaction under way ends, which checks ctx first.
		<-c.wake
		if c.finished {
			return c.admitted, c.err
		}
		g.mu.Lock()
	}
	g.busy = true
	var batch []*admitCall
	for _, q := range g.queue {
		if err := q.ctx.Err(); err != nil {
			q.err = err
			if q != c {
				q.finish()
			}
			continue
		}
		batch = append(batch, q)
	}
	g.queue = nil
	g.mu.Unlock()

	if len(batch) > 0 {
		commit(batch)
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- struct{}{} // the next committer; it stays queued and so in its own batch
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, q := range batch {
		if q != c {
			q.finish()
		}
	}
	return c.admitted, c.err
}

// finish hands a decided call its result.
func (c *admitCall) finish() {
	c.finished = true
	c.wake <- struct{}{}
}
