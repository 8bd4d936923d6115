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

// LockResult is the outcome of a lock that Kandji accepted.
type LockResult struct {
	// PIN is the Mac unlock PIN from the lock response; "" for other platforms, when
	// AlreadyLocked, or when the answer carried none (read it with UnlockPIN then).
	PIN string
	// AlreadyLocked means the device was already locked or a lock command was already pending,
	// which for the caller means the same as a lock just sent.
	AlreadyLocked bool
}

// lockBody is the optional request body, with Kandji's PascalCase keys.
type lockBody struct {
	Message     string `json:"Message,omitempty"`
	PhoneNumber string `json:"PhoneNumber,omitempty"`
}

// Lock sends the MDM Lock command to one device. A 400 "already locked" or "command already
// running" is a success with AlreadyLocked set, also when it answers a retry of a lock that had
// failed with 429 or 5xx. Lock does not fetch the PIN itself: callers that need it call UnlockPIN,
// so the rate budget is spent only when a PIN is wanted. When the connection breaks after the
// request may have reached Kandji, Lock does not retry and returns ErrOutcomeUnknown.
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
	switch {
	case errors.Is(err, ErrAlreadyLocked), errors.Is(err, ErrCommandRunning):
		return LockResult{AlreadyLocked: true}, nil
	case err != nil:
		return LockResult{}, err
	case resp.bodyErr != nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "kandji: lock accepted but its answer could not be read; read the PIN with UnlockPIN",
			slog.String("device_id", id), slog.String("error", resp.bodyErr.Error()))
		return LockResult{}, nil
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		return LockResult{}, nil
	}
	pin, err := decodePIN(resp.body)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "kandji: lock accepted but its answer is not the expected JSON; read the PIN with UnlockPIN",
			slog.String("device_id", id))
		return LockResult{}, nil
	}
	return LockResult{PIN: pin}, nil
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
