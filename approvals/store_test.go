package approvals

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedRequest is a valid request for direct store tests.
func storedRequest(id string, state State, created time.Time) Request {
	return Request{ID: id, Target: target, Requester: requester, Origin: Origin{Kind: OriginManual},
		Devices: sampleDevices(), Created: created, Expires: created.Add(DefaultTTL), Required: 1, State: state}
}

func TestStoreBasics(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	b := storedRequest("B", StatePending, testEpoch)
	a := storedRequest("A", StatePending, testEpoch) // same time: ordered by ID
	c := storedRequest("C", StateDone, testEpoch.Add(-time.Minute))
	for _, r := range []Request{b, a, c} {
		require.NoError(t, s.Create(ctx, r))
	}

	got, err := s.Get(ctx, "A")
	require.NoError(t, err)
	assert.Equal(t, a, got)

	list, err := s.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Request{c, a, b}, list, "oldest first, then by ID")

	updated, err := s.Update(ctx, "A", func(r *Request) error {
		r.Approvals = append(r.Approvals, Approval{By: approverA, At: testEpoch})
		return nil
	})
	require.NoError(t, err)
	require.Len(t, updated.Approvals, 1)

	// Values handed out share nothing with the store.
	updated.Approvals[0].By = "mallory"
	got.Devices[0].Serial = "tampered"
	list[0].Devices[0].Name = "tampered"
	again, err := s.Get(ctx, "A")
	require.NoError(t, err)
	assert.Equal(t, approverA, again.Approvals[0].By)
	assert.Equal(t, a.Devices, again.Devices)
	c2, err := s.Get(ctx, "C")
	require.NoError(t, err)
	assert.Equal(t, c, c2)
}

func TestStoreRefusals(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	existing := storedRequest("X", StatePending, testEpoch)
	keep := func(*Request) error { return nil }

	tests := []struct {
		name    string
		closed  bool
		run     func(s *CacheStore) error
		wantErr error
	}{
		{name: "create without ID", wantErr: errInvalid,
			run: func(s *CacheStore) error { return s.Create(ctx, storedRequest("", StatePending, testEpoch)) }},
		{name: "create with unknown state", wantErr: errInvalid,
			run: func(s *CacheStore) error { return s.Create(ctx, storedRequest("Y", "bogus", testEpoch)) }},
		{name: "create twice", wantErr: errDuplicate,
			run: func(s *CacheStore) error { return s.Create(ctx, existing) }},
		{name: "get unknown", wantErr: ErrNotFound,
			run: func(s *CacheStore) error { _, err := s.Get(ctx, "nope"); return err }},
		{name: "update unknown", wantErr: ErrNotFound,
			run: func(s *CacheStore) error { _, err := s.Update(ctx, "nope", keep); return err }},
		{name: "update whose fn fails", wantErr: errDisk,
			run: func(s *CacheStore) error {
				_, err := s.Update(ctx, "X", func(r *Request) error { r.State = StateDenied; return errDisk })
				return err
			}},
		{name: "update changing the ID", wantErr: errIDChanged,
			run: func(s *CacheStore) error {
				_, err := s.Update(ctx, "X", func(r *Request) error { r.ID = "Z"; return nil })
				return err
			}},
		{name: "update to an unknown state", wantErr: errInvalid,
			run: func(s *CacheStore) error {
				_, err := s.Update(ctx, "X", func(r *Request) error { r.State = "bogus"; return nil })
				return err
			}},
		{name: "cancelled context", wantErr: context.Canceled,
			run: func(s *CacheStore) error { _, err := s.Update(cancelled, "X", keep); return err }},
		{name: "get after close", closed: true, wantErr: errClosed,
			run: func(s *CacheStore) error { _, err := s.Get(ctx, "X"); return err }},
		{name: "create after close", closed: true, wantErr: errClosed,
			run: func(s *CacheStore) error { return s.Create(ctx, storedRequest("Y", StatePending, testEpoch)) }},
		{name: "update after close", closed: true, wantErr: errClosed,
			run: func(s *CacheStore) error { _, err := s.Update(ctx, "X", keep); return err }},
		{name: "list after close", closed: true, wantErr: errClosed,
			run: func(s *CacheStore) error { _, err := s.List(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			require.NoError(t, err)
			require.NoError(t, s.Create(ctx, existing))
			lines := s.disk.lines
			if tt.closed {
				require.NoError(t, s.Close())
				require.NoError(t, s.Close(), "closing twice is harmless")
			} else {
				t.Cleanup(func() { require.NoError(t, s.Close()) })
			}
			require.ErrorIs(t, tt.run(s), tt.wantErr)
			if !tt.closed {
				assert.Equal(t, lines, s.disk.lines, "nothing was written")
				got, err := s.Get(ctx, "X")
				require.NoError(t, err)
				assert.Equal(t, existing, got)
			}
		})
	}
}

func TestMemoryStoreForgetsAfterRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := NewMemoryStore(WithStoreRetention(time.Hour))
		now := time.Now()
		done := storedRequest("DONE", StateDone, now)
		pending := storedRequest("PENDING", StatePending, now) // expires in 30 minutes
		require.NoError(t, s.Create(ctx, done))
		require.NoError(t, s.Create(ctx, pending))

		time.Sleep(time.Hour + time.Second)
		_, err := s.Get(ctx, "DONE")
		require.ErrorIs(t, err, ErrNotFound, "a terminal request is kept for the retention period")
		_, err = s.Get(ctx, "PENDING")
		require.NoError(t, err, "a live request is kept until its deadline plus retention")

		time.Sleep(30 * time.Minute)
		list, err := s.List(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)

		// Forgotten entries are also swept out of memory by later creates.
		assert.Equal(t, 2, s.c.ItemCount())
		require.NoError(t, s.Create(ctx, storedRequest("NEW", StatePending, time.Now())))
		assert.Equal(t, 1, s.c.ItemCount())
	})
}

func TestStoreOptionsIgnoreNonsense(t *testing.T) {
	s := NewMemoryStore(WithStoreRetention(-time.Hour), WithStoreClock(nil), WithStoreLogger(nil))
	assert.Equal(t, DefaultRetention, s.retention)
	assert.NotNil(t, s.now)
	assert.NotNil(t, s.log)

	e := NewEngine(s, nil, WithRetention(0), WithClock(nil), WithLogger(nil))
	assert.Equal(t, DefaultRetention, e.retention)
	assert.NotNil(t, e.now)
	assert.NotNil(t, e.log)
}
