package approvals

import "context"

// urgentKey marks a context as Urgent.
type urgentKey struct{}

// Urgent returns ctx marked so that a store which queues its writers
// serves Updates under it ahead of the rest: someone is waiting for them
// (Okta for a hook's answer, Slack for a click's), while tasks can wait.
func Urgent(ctx context.Context) context.Context {
	return context.WithValue(ctx, urgentKey{}, true)
}

// IsUrgent reports whether ctx was marked by Urgent.
func IsUrgent(ctx context.Context) bool {
	u, _ := ctx.Value(urgentKey{}).(bool)
	return u
}
