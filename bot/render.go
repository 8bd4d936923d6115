package bot

import (
	"context"
	"fmt"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
)

// render builds the message a post should show now, from the records it
// is about. For a request card it also returns the request, whose
// requester the writer answers once the card is up.
func (b *Bot) render(ctx context.Context, p approvals.Post) (cards.Message, *approvals.Request, error) {
	var m cards.Message
	var req *approvals.Request
	err := b.store.View(ctx, func(tx approvals.Tx) error {
		switch p.Kind {
		case approvals.PostRequest:
			r, err := tx.Request(p.Ref)
			if err != nil {
				return err
			}
			var j *approvals.LockJob
			if r.LockID != "" {
				lj, err := tx.Lock(r.LockID)
				if err != nil {
					return err
				}
				j = &lj
			}
			m, req = cards.RequestCard(requestView(r, j)), &r
		case approvals.PostLock:
			j, err := tx.Lock(p.Ref)
			if err != nil {
				return err
			}
			m = cards.LockReport(lockView(j), personView(j.Person), j.DryRun)
		case approvals.PostNotice:
			m = cards.PlainNotice(p.Text, p.User)
		case approvals.PostDigest:
			v, err := b.digestView(tx, p)
			if err != nil {
				return err
			}
			m = cards.DigestCard(v)
		default:
			return fmt.Errorf("%w: post kind %q", approvals.ErrNotFound, p.Kind)
		}
		return nil
	})
	return m, req, err
}
