package kandji

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// LockOptions is what the locked device shows. Both fields are optional and omitted when empty;
// among Macs, only Apple-silicon models show the phone number.
type LockOptions struct {
	// Message is shown on the lock screen.
	Message string
	// PhoneNumber is shown on the lock screen as a number to call.
	PhoneNumber string
}

// lockBody is the optional request body, with Kandji's PascalCase keys.
type lockBody struct {
	Message     string `json:"Message,omitempty"`
	PhoneNumber string `json:"PhoneNumber,omitempty"`
}

// Lock sends the MDM Lock command to one device and reports what Kandji confirmed:
//
//   - 200: LockAccepted, with the Mac's unlock PIN when the answer carries it.
//   - 400 or 409 "Command is not allowed for current device": an *Error matching ErrNotAllowed.
//   - any other 400 or 409 (Kandji's "This device is already locked.", "Another MDM command
//     (EraseDevice) is already running", a conflict): Lock reads the device's command list and
//     reports LockPending when a lock is on its way, LockAlreadyDone when the latest lock
//     completed, else a *BusyError (ErrBusy): the lock was not queued. When the command list
//     cannot be read (a missing permission, an outage, an unreadable answer) it returns a
//     LockResult with status LockUnconfirmed together with an error matching ErrUnconfirmed.
//   - a transport failure or the HTTP client's timeout after the request may have reached
//     Kandji: ErrOutcomeUnknown, not retried here. Sending the lock again is safe, because
//     Kandji then answers "already locked" and the command list tells the rest.
//   - ctx ending: ctx's error, never ErrOutcomeUnknown, even after the request was sent.
//
// 429 and 5xx answers are retried as for every call; a retry that hears "already locked" is
// judged from the command list like any refusal. Lock does not fetch the PIN itself: callers that
// need it call UnlockPIN, so the rate budget is spent only when a PIN is wanted. The error is nil
// exactly when Status.Confirmed().
func (c *Client) Lock(ctx context.Context, id string, opts LockOptions) (LockResult, error) {
	if err := checkID(id); err != nil {
		return LockResult{}, err
	}
	body, err := json.Marshal(lockBody(opts))
	if err != nil {
		return LockResult{}, fmt.Errorf("kandji: encoding lock options: %w", err)
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPost,
		route:  routeLock,
		path:   devicePath(id) + "/action/lock",
		body:   body,
	})
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr) && isLockRefusal(apiErr):
		return c.checkRefusedLock(ctx, id, apiErr)
	case err != nil:
		return LockResult{}, err
	case resp.bodyErr != nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "kandji: lock accepted but its answer could not be read; read the PIN with UnlockPIN",
			slog.String("device_id", id), slog.String("error", resp.bodyErr.Error()))
		return LockResult{Status: LockAccepted}, nil
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		return LockResult{Status: LockAccepted}, nil
	}
	pin, err := decodePIN(resp.body)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "kandji: lock accepted but its answer is not the expected JSON; read the PIN with UnlockPIN",
			slog.String("device_id", id))
		return LockResult{Status: LockAccepted}, nil
	}
	return LockResult{Status: LockAccepted, PIN: pin}, nil
}

// checkRefusedLock reads the command list of a device whose lock POST was refused, to tell a
// lock on its way or done from a device busy with something else.
func (c *Client) checkRefusedLock(ctx context.Context, id string, refusal *Error) (LockResult, error) {
	cmds, err := c.recentCommands(ctx, id)
	if err != nil {
		unconfirmed := &unconfirmedError{refusal: refusal, cause: err}
		c.log.LogAttrs(ctx, slog.LevelWarn, "kandji: lock refused and not confirmed",
			slog.String("device_id", id), slog.String("error", unconfirmed.Error()))
		return LockResult{
			Status: LockUnconfirmed,
			Detail: fmt.Sprintf("Kandji answered %s; the device's command list could not be read", refusal.status()),
		}, unconfirmed
	}
	return judgeRefusal(refusal, cmds)
}

// UnlockPIN reads the current unlock PIN of a locked Mac (GET /devices/{id}/secrets/unlockpin).
// The PIN is a secret: it appears in no error or log line.
func (c *Client) UnlockPIN(ctx context.Context, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, route: routeUnlockPIN, path: devicePath(id) + "/secrets/unlockpin"})
	if err != nil {
		return "", err
	}
	pin, err := decodePIN(resp.body)
	if err != nil {
		// The body may hold the PIN, so neither it nor the decoder's error (which quotes it) is kept.
		return "", fmt.Errorf("kandji: GET %s: the answer is not the expected JSON", routeUnlockPIN)
	}
	if pin == "" {
		return "", fmt.Errorf("kandji: GET %s: the answer carries no PIN", routeUnlockPIN)
	}
	return pin, nil
}

// decodePIN reads {"PIN": …} (lock) or {"pin": …} (unlockpin): encoding/json matches keys without
// regard to case, and flexString keeps a PIN sent as a number.
func decodePIN(body []byte) (string, error) {
	var v struct {
		PIN flexString `json:"pin"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(v.PIN)), nil
}
