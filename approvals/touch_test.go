package approvals

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memTx is the part of a Tx that Touch, Notify, OpenIn and OpenLock use,
// kept in maps. Any other method panics (the embedded Tx is nil), so a
// test notices a helper reaching further than it should.
type memTx struct {
	Tx
	posts    map[string]Post
	requests map[string]Request
	locks    map[string]LockJob
	records  []Record
	tasks    []Task
	puts     int // PutPost calls

	postErr    error // returned by Post
	putPostErr error // returned by PutPost
	appendErr  error // returned by Append
}

func newMemTx() *memTx {
	return &memTx{posts: map[string]Post{}, requests: map[string]Request{}, locks: map[string]LockJob{}}
}

func (m *memTx) Post(key string) (Post, error) {
	if m.postErr != nil {
		return Post{}, m.postErr
	}
	p, ok := m.posts[key]
	if !ok {
		return Post{}, fmt.Errorf("post %s: %w", key, ErrNotFound)
	}
	return p.Clone(), nil
}

func (m *memTx) PutPost(p Post) error {
	m.puts++
	if m.putPostErr != nil {
		return m.putPostErr
	}
	m.posts[p.Key] = p.Clone()
	return nil
}

func (m *memTx) PutRequest(r Request) error { m.requests[r.ID] = r.Clone(); return nil }
func (m *memTx) PutLock(j LockJob) error    { m.locks[j.ID] = j.Clone(); return nil }
func (m *memTx) Enqueue(t Task) error       { m.tasks = append(m.tasks, t); return nil }

// Append refuses what Record.Check refuses, as stores do.
func (m *memTx) Append(r Record) error {
	if m.appendErr != nil {
		return m.appendErr
	}
	if err := r.Check(); err != nil {
		return err
	}
	m.records = append(m.records, r)
	return nil
}

func TestTouchCreates(t *testing.T) {
	tx := newMemTx()
	require.NoError(t, Touch(tx, "request:R1", "C1", PriorityNormal, t0))
	assert.Equal(t, Post{Key: "request:R1", Kind: PostRequest, Ref: "R1", Channel: "C1", Priority: PriorityNormal, Rev: 1, Created: t0, Queued: t0},
		tx.posts["request:R1"])
	assert.True(t, tx.posts["request:R1"].Due(t0))

	require.NoError(t, Touch(tx, "odd", "C1", PriorityBulk, t0))
	assert.Equal(t, Post{Key: "odd", Kind: "odd", Channel: "C1", Priority: PriorityBulk, Rev: 1, Created: t0, Queued: t0}, tx.posts["odd"])
}

func TestTouchBumps(t *testing.T) {
	later := t0.Add(time.Hour)
	posted := Post{Key: "lock:L1", Kind: PostLock, Ref: "L1", Channel: "C-old", Priority: PriorityNormal,
		TS: "1.0", Copies: []string{"2.0"}, Rev: 3, PostedRev: 3, Created: t0,
		NextTry: later.Add(time.Minute), Attempts: 2, LastError: "ratelimited"}
	tests := []struct {
		name     string
		priority int
		wantPrio int
	}{
		{"less urgent keeps the more urgent", PriorityBulk, PriorityNormal},
		{"same", PriorityNormal, PriorityNormal},
		{"more urgent wins", PriorityInteractive, PriorityInteractive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := newMemTx()
			tx.posts[posted.Key] = posted.Clone()
			require.NoError(t, Touch(tx, posted.Key, "C-new", tt.priority, later))
			want := posted.Clone()
			want.Rev, want.Priority, want.NextTry, want.Queued = 4, tt.wantPrio, time.Time{}, later
			assert.Equal(t, want, tx.posts[posted.Key], "only Rev, Priority, NextTry and Queued change; channel and created stay")
			assert.True(t, tx.posts[posted.Key].Due(later), "a touched post is due at once")
		})
	}
}

func TestTouchRepeated(t *testing.T) {
	tx := newMemTx()
	for i := range 3 {
		require.NoError(t, Touch(tx, "request:R1", "C1", PriorityBulk-i, t0.Add(time.Duration(i)*time.Second)))
	}
	p := tx.posts["request:R1"]
	assert.Equal(t, 3, p.Rev)
	assert.Equal(t, PriorityInteractive, p.Priority)
	assert.Equal(t, t0, p.Created, "created when first touched")
	assert.Equal(t, t0, p.Queued, "touched again while waiting, it keeps its place")
	assert.Equal(t, t0, p.QueuedAt())
	assert.Equal(t, t0.Add(time.Hour), Post{Created: t0.Add(time.Hour)}.QueuedAt(), "never queued: its creation")
}

func TestTouchThroughDigest(t *testing.T) {
	member := Post{Key: "lock:L1", Kind: PostLock, Ref: "L1", Channel: "C-notify", Priority: PriorityNormal,
		Rev: 2, PostedRev: 2, Created: t0, Digest: "digest:D1"}
	t.Run("creates the digest", func(t *testing.T) {
		tx := newMemTx()
		tx.posts[member.Key] = member
		require.NoError(t, Touch(tx, member.Key, "C-other", PriorityInteractive, t0.Add(time.Minute)))
		assert.Equal(t, member, tx.posts[member.Key], "the member itself is not bumped")
		assert.Equal(t, Post{Key: "digest:D1", Kind: PostDigest, Ref: "D1", Channel: "C-notify", Priority: PriorityBulk,
			Rev: 1, Created: t0.Add(time.Minute), Queued: t0.Add(time.Minute)}, tx.posts["digest:D1"], "in the member's channel, at bulk priority")
	})
	t.Run("bumps an existing digest", func(t *testing.T) {
		tx := newMemTx()
		tx.posts[member.Key] = member
		tx.posts["digest:D1"] = Post{Key: "digest:D1", Kind: PostDigest, Ref: "D1", Channel: "C-notify",
			Priority: PriorityNormal, Rev: 5, PostedRev: 5, Created: t0, NextTry: t0.Add(time.Hour)}
		require.NoError(t, Touch(tx, member.Key, "C-notify", PriorityInteractive, t0.Add(time.Minute)))
		d := tx.posts["digest:D1"]
		assert.Equal(t, 6, d.Rev)
		assert.Equal(t, PriorityNormal, d.Priority, "bulk does not lower a more urgent digest")
		assert.True(t, d.NextTry.IsZero())
		assert.Equal(t, 1, tx.puts)
	})
}

func TestTouchErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	t.Run("read error is returned, nothing written", func(t *testing.T) {
		tx := newMemTx()
		tx.postErr = boom
		assert.ErrorIs(t, Touch(tx, "request:R1", "C1", 0, t0), boom)
		assert.Zero(t, tx.puts)
	})
	t.Run("wrapped not found creates", func(t *testing.T) {
		tx := newMemTx()
		tx.postErr = fmt.Errorf("sqlite: %w", ErrNotFound)
		require.NoError(t, Touch(tx, "request:R1", "C1", 0, t0))
		assert.Equal(t, 1, tx.puts)
	})
	t.Run("write error is returned", func(t *testing.T) {
		tx := newMemTx()
		tx.putPostErr = boom
		assert.ErrorIs(t, Touch(tx, "request:R1", "C1", 0, t0), boom)
	})
}

func TestNotify(t *testing.T) {
	tx := newMemTx()
	require.NoError(t, Notify(tx, "C1", "1.0", "bob@example.com was locked", PriorityNormal, t0))
	require.NoError(t, Notify(tx, "C1", "", "again", PriorityBulk, t0))
	require.Len(t, tx.posts, 2, "every notice is its own post")
	for key, p := range tx.posts {
		kind, ref := SplitPostKey(key)
		assert.Equal(t, PostNotice, kind)
		assert.NotEmpty(t, ref)
		assert.Equal(t, p.Key, key)
		assert.Equal(t, PostNotice, p.Kind)
		assert.Equal(t, ref, p.Ref)
		assert.Equal(t, "C1", p.Channel)
		assert.Equal(t, 1, p.Rev)
		assert.Zero(t, p.PostedRev)
		assert.Equal(t, t0, p.Created)
		assert.True(t, p.Due(t0))
		switch p.Text {
		case "bob@example.com was locked":
			assert.Equal(t, "1.0", p.Thread)
			assert.Equal(t, PriorityNormal, p.Priority)
		case "again":
			assert.Empty(t, p.Thread)
			assert.Equal(t, PriorityBulk, p.Priority)
		default:
			t.Errorf("unexpected notice %q", p.Text)
		}
	}

	boom := errors.New("boom")
	tx = newMemTx()
	tx.putPostErr = boom
	assert.ErrorIs(t, Notify(tx, "C1", "", "x", 0, t0), boom)
}

func TestNewLock(t *testing.T) {
	person := Person{Email: " Bob@Example.COM ", Name: "Bob"}
	origin := Origin{Kind: OriginOkta, EventType: "user.lifecycle.suspend", EventID: "E1"}
	t.Run("defaults", func(t *testing.T) {
		j := NewLock(person, origin, "suspended", "", t0, 0, false)
		assert.NotEmpty(t, j.ID)
		assert.Equal(t, "bob@example.com", j.Key)
		assert.Equal(t, person, j.Person, "the person is kept as given")
		assert.Equal(t, origin, j.Origin)
		assert.Equal(t, "suspended", j.Reason)
		assert.Equal(t, JobQueued, j.State)
		assert.Equal(t, t0, j.Created)
		assert.Equal(t, t0, j.Updated)
		assert.Equal(t, t0.Add(DefaultLockDeadline), j.Deadline)
		assert.Equal(t, PostKey(PostLock, j.ID), j.Report, "its own report when none is given")
		assert.False(t, j.DryRun)
		assert.True(t, j.State.Valid())
	})
	t.Run("given report and deadline", func(t *testing.T) {
		j := NewLock(person, origin, "", "request:R1", t0, time.Hour, true)
		assert.Equal(t, "request:R1", j.Report)
		assert.Equal(t, t0.Add(time.Hour), j.Deadline)
		assert.True(t, j.DryRun)
	})
	t.Run("fresh IDs", func(t *testing.T) {
		a := NewLock(person, origin, "", "", t0, 0, false)
		b := NewLock(person, origin, "", "", t0, 0, false)
		assert.NotEqual(t, a.ID, b.ID)
	})
}

func TestOpenLock(t *testing.T) {
	t.Run("automatic lock is journaled", func(t *testing.T) {
		tx := newMemTx()
		j := NewLock(Person{Email: "bob@example.com"}, Origin{Kind: OriginOkta, Actor: "okta-admin"}, "suspended", "", t0, time.Hour, true)
		j.Triggers = []Trigger{{ID: "okta:E1", Type: "user.lifecycle.suspend"}, {ID: "okta:E2", Type: "other"}}
		require.NoError(t, OpenLock(tx, j, KindAutoLock, "C-notify", PriorityNormal))

		assert.Equal(t, j, tx.locks[j.ID])
		assert.Equal(t, []Task{{Kind: TaskLock, Key: j.ID}}, tx.tasks)
		require.Len(t, tx.records, 1)
		assert.Equal(t, Record{Time: t0, Kind: KindAutoLock, ID: j.ID, Actor: "okta-admin", Target: "bob@example.com",
			Details: map[string]string{"origin": OriginOkta, "event_type": "user.lifecycle.suspend", "event_id": "okta:E1",
				"reason": "suspended", "deadline": "2024-05-06T08:08:09Z", "dry_run": "true"}}, tx.records[0])
		p := tx.posts[j.Report]
		assert.Equal(t, Post{Key: j.Report, Kind: PostLock, Ref: j.ID, Channel: "C-notify", Priority: PriorityNormal, Rev: 1, Created: t0, Queued: t0}, p)
	})
	t.Run("no kind, no record", func(t *testing.T) {
		tx := newMemTx()
		j := NewLock(Person{Email: "bob@example.com"}, Origin{Kind: OriginManual}, "", "request:R1", t0, 0, false)
		require.NoError(t, OpenLock(tx, j, "", "C-cards", PriorityInteractive))
		assert.Empty(t, tx.records)
		assert.Len(t, tx.tasks, 1)
		assert.Equal(t, 1, tx.posts["request:R1"].Rev)
	})
	t.Run("invalid", func(t *testing.T) {
		for _, j := range []LockJob{
			{State: JobQueued},
			{ID: "L1"},
			{ID: "L1", State: "bogus"},
		} {
			tx := newMemTx()
			err := OpenLock(tx, j, KindAutoLock, "C", 0)
			assert.ErrorIs(t, err, ErrInvalid, "%+v", j)
			assert.Empty(t, tx.locks)
			assert.Empty(t, tx.tasks)
			assert.Empty(t, tx.records)
		}
	})
	t.Run("journal refusal stops it", func(t *testing.T) {
		tx := newMemTx()
		tx.appendErr = errors.New("journal full")
		j := NewLock(Person{Email: "bob@example.com"}, Origin{}, "", "", t0, 0, false)
		assert.ErrorIs(t, OpenLock(tx, j, KindAutoLock, "C", 0), tx.appendErr)
		assert.Empty(t, tx.tasks)
	})
}

func TestOpenInValidates(t *testing.T) {
	e := NewEngine(nil, nil)
	tests := []struct {
		name string
		nr   NewRequest
		want []string
	}{
		{"empty", NewRequest{}, []string{"target is empty", "requester is empty"}},
		{"blank", NewRequest{Person: Person{Email: " \t"}, Requester: "\n"}, []string{"target is empty", "requester is empty"}},
		{"negative", NewRequest{Person: Person{Email: "bob@example.com"}, Requester: "U1", Required: -1, TTL: -time.Second},
			[]string{"required approvals is negative", "TTL is negative"}},
		{"everything", NewRequest{Required: -1, TTL: -1},
			[]string{"target is empty", "requester is empty", "required approvals is negative", "TTL is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := newMemTx()
			_, err := e.OpenIn(tx, tt.nr)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, ErrInvalid.Error()+": "+strings.Join(tt.want, "; "), err.Error())
			assert.Empty(t, tx.requests)
			assert.Empty(t, tx.records)
			assert.Empty(t, tx.tasks)
			assert.Empty(t, tx.posts)
		})
	}
}

func TestOpenIn(t *testing.T) {
	e := NewEngine(nil, nil, WithClock(func() time.Time { return t0 }), WithCardChannel("C-cards"))
	t.Run("defaults", func(t *testing.T) {
		tx := newMemTx()
		r, err := e.OpenIn(tx, NewRequest{Person: Person{Email: "bob@example.com"}, Requester: "U1"})
		require.NoError(t, err)
		assert.NotEmpty(t, r.ID)
		assert.Equal(t, StatePending, r.State)
		assert.Equal(t, DefaultRequired, r.Required)
		assert.Equal(t, t0, r.Created)
		assert.Equal(t, t0.Add(DefaultTTL), r.Expires)
		assert.Equal(t, OriginManual, r.Origin.Kind)
		assert.Equal(t, r, tx.requests[r.ID])
		assert.Equal(t, []Task{{Kind: TaskExpire, Key: r.ID, At: r.Expires}}, tx.tasks)
		require.Len(t, tx.records, 1)
		assert.Equal(t, Record{Time: t0, Kind: KindOpened, ID: r.ID, Actor: "U1", Target: "bob@example.com",
			Details: map[string]string{"origin": OriginManual, "required": "1", "expires": "2024-05-06T07:38:09Z"}}, tx.records[0])
		assert.Equal(t, Post{Key: PostKey(PostRequest, r.ID), Kind: PostRequest, Ref: r.ID, Channel: "C-cards",
			Priority: PriorityInteractive, Rev: 1, Created: t0, Queued: t0}, tx.posts[PostKey(PostRequest, r.ID)])
	})
	t.Run("everything given", func(t *testing.T) {
		tx := newMemTx()
		devs := []Device{{ID: "D1", Name: "Bob's Mac", Serial: "C02X"}, {ID: "D2", Name: "iPhone", Serial: "F17Y"}}
		nr := NewRequest{
			Person:    Person{Email: "bob@example.com", Name: "Bob"},
			Requester: "okta", Reason: "suspended",
			Origin:   Origin{Kind: OriginOkta, EventType: "user.lifecycle.suspend", EventID: "E1", Actor: "admin@example.com"},
			Devices:  devs,
			Required: 2, TTL: time.Hour, ReplyTo: ReplyTo{User: "U1", Channel: "D1"}, DryRun: true, Priority: PriorityBulk,
		}
		r, err := e.OpenIn(tx, nr)
		require.NoError(t, err)
		assert.Equal(t, 2, r.Required)
		assert.Equal(t, t0.Add(time.Hour), r.Expires)
		assert.Equal(t, nr.Origin, r.Origin)
		assert.Equal(t, nr.ReplyTo, r.ReplyTo)
		assert.True(t, r.DryRun)
		assert.Equal(t, map[string]string{
			"reason": "suspended", "origin": OriginOkta, "event_type": "user.lifecycle.suspend", "event_id": "E1",
			"okta_actor": "admin@example.com", "required": "2", "expires": "2024-05-06T08:08:09Z",
			"devices": "Bob's Mac (C02X), iPhone (F17Y)", "dry_run": "true",
		}, tx.records[0].Details)
		assert.Equal(t, PriorityBulk, tx.posts[PostKey(PostRequest, r.ID)].Priority)

		devs[0].Name = "changed by the caller"
		assert.Equal(t, "Bob's Mac", r.Devices[0].Name, "the request does not share the caller's slice")
		assert.Equal(t, "Bob's Mac", tx.requests[r.ID].Devices[0].Name)
	})
	t.Run("journal refusal stops it", func(t *testing.T) {
		tx := newMemTx()
		tx.appendErr = errors.New("journal full")
		_, err := e.OpenIn(tx, NewRequest{Person: Person{Email: "bob@example.com"}, Requester: "U1"})
		assert.ErrorIs(t, err, tx.appendErr)
		assert.Empty(t, tx.tasks)
		assert.Empty(t, tx.posts)
	})
}

func TestDeviceList(t *testing.T) {
	assert.Equal(t, "", deviceList(nil))
	assert.Equal(t, "Mac (C02X)", deviceList([]Device{{Name: "Mac", Serial: "C02X"}}))
	assert.Equal(t, " (), iPad (X)", deviceList([]Device{{}, {Name: "iPad", Serial: "X"}}))
	assert.Equal(t, "true", boolDetail(true))
	assert.Equal(t, "", boolDetail(false), "false is left out of the journal")
}

// TestTouchRefusesDigestLoops: a digest that stands in another digest (or
// in itself) is a broken record; Touch says so instead of recursing.
func TestTouchRefusesDigestLoops(t *testing.T) {
	for name, posts := range map[string][]Post{
		"self": {{Key: "digest:D1", Kind: PostDigest, Ref: "D1", Channel: "C", Digest: "digest:D1"}},
		"pair": {
			{Key: "digest:D1", Kind: PostDigest, Ref: "D1", Channel: "C", Digest: "digest:D2"},
			{Key: "digest:D2", Kind: PostDigest, Ref: "D2", Channel: "C", Digest: "digest:D1"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tx := newMemTx()
			for _, p := range posts {
				tx.posts[p.Key] = p
			}
			require.ErrorIs(t, Touch(tx, "digest:D1", "C", PriorityNormal, t0), ErrInvalid)
			assert.Zero(t, tx.puts, "nothing written")
		})
	}
}
