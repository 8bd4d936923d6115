package bot

import (
	"context"
	"sync"
)

// fifo is an unbounded first-in first-out queue that consumers can wait
// on. Its size is bounded from outside: the pipeline admits a person only
// when it has room (see pipeline.admit).
type fifo[T any] struct {
	mu    sync.Mutex
	items []T
	wake  chan struct{} // holds a token while items may be waiting
}

func newFIFO[T any]() *fifo[T] { return &fifo[T]{wake: make(chan struct{}, 1)} }

func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.signal()
}

func (q *fifo[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *fifo[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// take waits until the queue is not empty and removes up to max items
// (all of them when max <= 0). It returns nothing once ctx ends.
func (q *fifo[T]) take(ctx context.Context, max int) []T {
	for {
		q.mu.Lock()
		if n := len(q.items); n > 0 {
			if max <= 0 || max > n {
				max = n
			}
			out := q.items[:max:max]
			q.items = append([]T(nil), q.items[max:]...)
			left := len(q.items)
			q.mu.Unlock()
			if left > 0 {
				// One token wakes one consumer; pass it on for the rest.
				q.signal()
			}
			return out
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		}
	}
}
