package approvals

import "crypto/rand"

// NewID returns 128 random bits in unpadded base32: unguessable, and safe
// in URLs and Slack button values.
func NewID() string { return rand.Text() }
