package okta

import (
	"context"
	"net/url"
	"time"
)

// Cursor is where the catch-up stands in the System Log. A CursorStore may
// keep it as JSON (lockbot's store does); the tags are that encoding.
type Cursor struct {
	// Next is the path and query of the last rel="next" link of a polling
	// query whose page was admitted, to resume from. "" means there is
	// none: the next poll starts a new polling query.
	Next string `json:"next,omitempty"`
	// Newest is the newest published time of the events read. A new
	// polling query starts Overlap before it, so a refused cursor costs a
	// bounded re-read, not lost events.
	Newest time.Time `json:"newest,omitzero"`
}

// CursorStore persists the catch-up's Cursor. SaveCursor is called only
// after the events read up to that cursor were admitted.
type CursorStore interface {
	// LoadCursor returns the saved cursor, the zero Cursor when none was
	// saved.
	LoadCursor(ctx context.Context) (Cursor, error)
	// SaveCursor durably replaces the saved cursor.
	SaveCursor(ctx context.Context, c Cursor) error
}

// usableCursor reports whether next can be requested as it is: a relative
// System Log URL carrying an after cursor. The SDK prefixes the org URL, so
// a stored value can never send the token elsewhere either way.
func usableCursor(next string) bool {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != logsPath {
		return false
	}
	q := u.Query()
	return q.Get("after") != "" && !q.Has("since")
}
