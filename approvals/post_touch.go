package approvals

import (
	"errors"
	"fmt"
	"time"
)

// Touch records that the message of the post at key must show a change:
// it creates the post the first time (kind, ref, channel and priority are
// used then) and bumps its revision, so that its channel's writer posts or
// edits it. A post standing in a digest touches the digest instead. A
// more urgent priority is kept, and so is the place in the queue of a
// post still waiting.
func Touch(tx Tx, key, channel string, priority int, now time.Time) error {
	return touch(tx, key, channel, priority, now, false)
}

// touch is Touch; redirected says key is a digest some post stands in.
func touch(tx Tx, key, channel string, priority int, now time.Time, redirected bool) error {
	p, err := tx.Post(key)
	switch {
	case errors.Is(err, ErrNotFound):
		kind, ref := SplitPostKey(key)
		p = Post{Key: key, Kind: kind, Ref: ref, Channel: channel, Priority: priority, Created: now}
	case err != nil:
		return err
	}
	if p.Digest != "" {
		if redirected {
			// A digest is never in another; a loop must not recurse for ever.
			return fmt.Errorf("%w: post %s stands in a digest and is one itself", ErrInvalid, key)
		}
		return touch(tx, p.Digest, p.Channel, PriorityBulk, now, true)
	}
	if p.Rev <= p.PostedRev {
		// It was shown as it is: it joins the back of the queue. One
		// already waiting keeps its place.
		p.Queued = now
	}
	p.Rev++
	p.Priority = min(p.Priority, priority)
	p.NextTry = time.Time{}
	return tx.PutPost(p)
}

// Notify adds a one-off notice to channel, posted by its writer in turn
// (in thread, when thread is set). text is plain: the writer escapes it,
// so names and emails in it are shown, never followed. It is never a PIN.
func Notify(tx Tx, channel, thread, text string, priority int, now time.Time) error {
	id := NewID()
	return tx.PutPost(Post{Key: PostKey(PostNotice, id), Kind: PostNotice, Ref: id, Channel: channel, Thread: thread,
		Text: text, Priority: priority, Created: now, Rev: 1})
}
