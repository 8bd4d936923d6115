package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// hookEnvelopeType is the envelope eventType of every event hook delivery.
const hookEnvelopeType = "com.okta.event_hook"

// ParseDelivery decodes one event-hook POST body. It returns ErrMalformed
// (wrapped, with the JSON error) for non-JSON and ErrNotEnvelope when
// eventType is not "com.okta.event_hook" or data.events is not an array.
// Events with no usable target of type "User" (or that are not JSON objects)
// are dropped, never returned; a field of an unexpected type costs only that
// field. Email is set from the User target's alternateId when that is an
// email address. No event type filtering happens here.
func ParseDelivery(body []byte) ([]Event, error) {
	d, err := decodeDelivery(bytes.NewReader(body), nil)
	if err != nil {
		return nil, err
	}
	return d.events, nil
}

// batch is a decoded event-hook body.
type batch struct {
	events  []Event
	dropped int // events without a usable User target
	ignored int // events whose type keep refused
}

// deliveryDecoder reads a delivery as a token stream, so memory holds one
// event's JSON at a time and the reduced Events, never the whole body and
// a decoded copy of it. Keys are matched exactly and the last of duplicate
// keys wins, as with a JSON object decoded into a map.
type deliveryDecoder struct {
	dec  *json.Decoder
	keep func(eventType string) bool
	// eventType, data and events say what the last occurrence of each
	// key held; only a delivery with all three right is an envelope.
	eventType string
	dataOK    bool
	eventsOK  bool
	d         batch
}

// decodeDelivery decodes a delivery from r. keep, when not nil, drops the
// events of other types as they are read. Errors wrap ErrMalformed or
// ErrNotEnvelope; an error reading r (such as *http.MaxBytesError) is
// returned wrapped as it is.
func decodeDelivery(r io.Reader, keep func(string) bool) (batch, error) {
	dd := &deliveryDecoder{dec: json.NewDecoder(r), keep: keep}
	dd.dec.UseNumber() // numbers are skipped, never converted
	if err := dd.top(); err != nil {
		return batch{}, err
	}
	switch {
	case dd.eventType != hookEnvelopeType:
		return batch{}, fmt.Errorf("%w: eventType %q", ErrNotEnvelope, truncate(dd.eventType, 64))
	case !dd.dataOK || !dd.eventsOK:
		return batch{}, fmt.Errorf("%w: data.events is not an array", ErrNotEnvelope)
	}
	if dd.d.events == nil {
		dd.d.events = []Event{}
	}
	return dd.d, nil
}

// top reads the whole body: one JSON value, then the end of input.
func (dd *deliveryDecoder) top() error {
	tok, err := dd.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		// Valid JSON of another shape is not an envelope, but the rest
		// must still be read to tell that from broken JSON.
		if err := dd.skipAfter(tok); err != nil {
			return err
		}
		if err := dd.end(); err != nil {
			return err
		}
		return fmt.Errorf("%w: not a JSON object", ErrNotEnvelope)
	}
	err = dd.object(func(key string) error {
		switch key {
		case "eventType":
			tok, err := dd.token()
			if err != nil {
				return err
			}
			dd.eventType, _ = tok.(string) // null or another type: not an envelope
			return dd.skipAfter(tok)
		case "data":
			return dd.data()
		}
		return dd.skip()
	})
	if err != nil {
		return err
	}
	return dd.end()
}

// data reads the value of "data"; only an object holding an "events" array
// counts.
func (dd *deliveryDecoder) data() error {
	dd.dataOK, dd.eventsOK, dd.d = false, false, batch{}
	tok, err := dd.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return dd.skipAfter(tok)
	}
	dd.dataOK = true
	return dd.object(func(key string) error {
		if key != "events" {
			return dd.skip()
		}
		dd.eventsOK, dd.d = false, batch{}
		tok, err := dd.token()
		if err != nil {
			return err
		}
		if tok != json.Delim('[') {
			return dd.skipAfter(tok)
		}
		dd.eventsOK = true
		for dd.dec.More() {
			if err := dd.event(); err != nil {
				return err
			}
		}
		_, err = dd.token() // ']'
		return err
	})
}

// event decodes one element of data.events. A field of the wrong type
// leaves the others decoded, which is enough when the User target survived;
// anything without one (null, a number) is dropped.
func (dd *deliveryDecoder) event() error {
	var le logEvent
	if err := dd.dec.Decode(&le); err != nil {
		var typ *json.UnmarshalTypeError
		if !errors.As(err, &typ) {
			return dd.fail(err)
		}
	}
	ev, ok := le.toEvent(SourceHook)
	switch {
	case !ok:
		dd.d.dropped++
	case dd.keep != nil && !dd.keep(ev.Type):
		dd.d.ignored++
	default:
		dd.d.events = append(dd.d.events, ev)
	}
	return nil
}

// object calls member for each key of the object whose '{' was just read,
// with the decoder before the key's value, and reads the closing '}'.
func (dd *deliveryDecoder) object(member func(key string) error) error {
	for dd.dec.More() {
		tok, err := dd.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder only yields strings here
		if err := member(key); err != nil {
			return err
		}
	}
	_, err := dd.token() // '}'
	return err
}

// skip reads and discards the next value.
func (dd *deliveryDecoder) skip() error {
	tok, err := dd.token()
	if err != nil {
		return err
	}
	return dd.skipAfter(tok)
}

// skipAfter discards the rest of the value that tok began, walking tokens so
// that a large value is never held in memory.
func (dd *deliveryDecoder) skipAfter(tok json.Token) error {
	depth := 0
	for {
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = dd.token(); err != nil {
			return err
		}
	}
}

// end checks that nothing but white space follows the value.
func (dd *deliveryDecoder) end() error {
	tok, err := dd.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return dd.fail(err)
	}
	return fmt.Errorf("%w: %v after the top-level value", ErrMalformed, tok)
}

// token reads the next token; the end of input here is malformed JSON.
func (dd *deliveryDecoder) token() (json.Token, error) {
	tok, err := dd.dec.Token()
	if err != nil {
		return nil, dd.fail(err)
	}
	return tok, nil
}

// fail classifies a decoder error: bad or truncated JSON is ErrMalformed;
// anything else came from reading the body and is returned as it is.
func (dd *deliveryDecoder) fail(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of JSON input", ErrMalformed)
	}
	return fmt.Errorf("okta: read delivery: %w", err)
}
