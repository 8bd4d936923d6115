package bot

import (
	"fmt"
	"log/slog"
)

// pin is a device unlock PIN.
//
// Every way Go has of printing a value (fmt verbs, slog, encoding/json)
// shows "[redacted]", so a PIN that strays into a log line, an error or a
// journal record cannot leak. Only reveal returns the digits, and only the
// approver's DM builder calls it.
type pin string

const redacted = "[redacted]"

// reveal returns the digits; call it only to build the approver's DM.
func (p pin) reveal() string { return string(p) }

// String implements fmt.Stringer.
func (p pin) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (p pin) GoString() string { return redacted }

// Format implements fmt.Formatter so that %d, %x and %q redact as well.
func (p pin) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (p pin) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (p pin) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by map keys, slog
// text handlers and others).
func (p pin) MarshalText() ([]byte, error) { return []byte(redacted), nil }
