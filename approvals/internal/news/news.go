// Package news is the "something happened" signal of lockbot's stores: a
// channel that is closed when the thing next happens and then replaced,
// so any number of waiters wake at once and none is left holding a stale
// one. The zero News is ready to use.
package news

import "sync"

// News is one kind of news: a commit, a released lease.
type News struct {
	mu sync.Mutex
	ch chan struct{}
}

// Next returns a channel closed at the next Tell.
func (n *News) Next() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// Tell wakes every waiter of Next.
func (n *News) Tell() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
