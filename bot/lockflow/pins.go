package lockflow

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
)

// PIN is a device unlock PIN. Every way Go has of printing a value (fmt
// verbs, slog, encoding/json) shows "[redacted]", so a PIN that strays
// into a log line, an error or a record cannot leak. Only Reveal returns
// the digits, and only the approver's DM is built with it.
type PIN string

const redacted = "[redacted]"

// Reveal returns the digits; call it only to build the approver's DM.
func (p PIN) Reveal() string { return string(p) }

// String implements fmt.Stringer.
func (p PIN) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (p PIN) GoString() string { return redacted }

// Format implements fmt.Formatter so that %d, %x and %q redact as well.
func (p PIN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (p PIN) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (p PIN) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (p PIN) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// DevicePIN is one device of a PIN DM: its PIN, or why there is none.
type DevicePIN struct {
	Device approvals.Device
	PIN    PIN    // "" when there is none
	Note   string // why not, for the DM: not a Mac, not available…
}

// FreshPINs reads, from Kandji and now, the unlock PIN of every secured Mac
// of lock job j. PINs are never stored anywhere, so every DM goes back to
// the source. Other secured devices are listed with the reason they have
// no PIN.
func (f *Flow) FreshPINs(ctx context.Context, j approvals.LockJob) []DevicePIN {
	var out []DevicePIN
	for _, d := range j.Devices {
		if !d.Outcome.Secured() {
			continue
		}
		out = append(out, f.pinOf(ctx, d.Device))
	}
	return out
}

// PINsFor reads the PINs of every Mac assigned to p now (for `/lock pins`).
func (f *Flow) PINsFor(ctx context.Context, p approvals.Person) ([]DevicePIN, error) {
	devices, _, err := f.Lookup(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []DevicePIN
	for _, d := range devices {
		if approvals.IsMac(d.Platform) {
			out = append(out, f.pinOf(ctx, d))
		}
	}
	return out, nil
}

// pinOf reads one device's PIN, interactively: an approver is waiting.
func (f *Flow) pinOf(ctx context.Context, d approvals.Device) DevicePIN {
	if !approvals.IsMac(d.Platform) {
		return DevicePIN{Device: d, Note: "no PIN: " + d.Platform + " devices unlock with their own passcode"}
	}
	p, err := f.kandji.UnlockPIN(kandji.WithPriority(ctx, kandji.Interactive), d.ID)
	if err != nil {
		f.log.Warn("unlock PIN not available", "device", d.ID, "err", err)
		return DevicePIN{Device: d, Note: "PIN not available: " + kandjiMessage(err)}
	}
	return DevicePIN{Device: d, PIN: PIN(p)}
}

// CountPINs counts the entries that carry a PIN.
func CountPINs(ps []DevicePIN) int {
	n := 0
	for _, p := range ps {
		if p.PIN != "" {
			n++
		}
	}
	return n
}
