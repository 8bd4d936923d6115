package approvals

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// errDisk stands for a broken disk or a lost Redis connection.
var errDisk = errors.New("disk on fire")

// flakyStore is a CacheStore whose chosen operations fail, for the error
// paths of the engine.
type flakyStore struct {
	*CacheStore
	mu  sync.Mutex
	err error
	ops []string // "get", "create", "update", "list"
}

// fail makes ops fail with err from now on; fail(nil) heals the store.
func (s *flakyStore) fail(err error, ops ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err, s.ops = err, ops
}

func (s *flakyStore) failing(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.ops, op) {
		return s.err
	}
	return nil
}

func (s *flakyStore) Get(ctx context.Context, id string) (Request, error) {
	if err := s.failing("get"); err != nil {
		return Request{}, err
	}
	return s.CacheStore.Get(ctx, id)
}

func (s *flakyStore) Create(ctx context.Context, r Request) error {
	if err := s.failing("create"); err != nil {
		return err
	}
	return s.CacheStore.Create(ctx, r)
}

func (s *flakyStore) Update(ctx context.Context, id string, fn func(*Request) error) (Request, error) {
	if err := s.failing("update"); err != nil {
		return Request{}, err
	}
	return s.CacheStore.Update(ctx, id, fn)
}

func (s *flakyStore) List(ctx context.Context) ([]Request, error) {
	if err := s.failing("list"); err != nil {
		return nil, err
	}
	return s.CacheStore.List(ctx)
}
