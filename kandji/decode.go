package kandji

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// flexString accepts a JSON string, keeps the literal text of a number or boolean (an old integer
// user ID, say), and reads null, objects and arrays as "".
type flexString string

// UnmarshalJSON implements the tolerance described on flexString.
func (s *flexString) UnmarshalJSON(data []byte) error {
	*s = ""
	if len(data) == 0 {
		return nil
	}
	switch c := data[0]; {
	case c == '"':
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case isJSONNumber(data) || c == 't' || c == 'f':
		*s = flexString(data)
	}
	return nil
}

// flexBool accepts a JSON boolean, the strings "True"/"False" (any case, also "1"/"0"), and
// numbers (non-zero is true). Anything else reads as false.
type flexBool bool

// UnmarshalJSON implements the tolerance described on flexBool.
func (b *flexBool) UnmarshalJSON(data []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(data); err != nil {
		return err
	}
	text := strings.ToLower(strings.TrimSpace(string(s)))
	if v, err := strconv.ParseBool(text); err == nil {
		*b = flexBool(v)
		return nil
	}
	*b = false
	if isJSONNumber(data) {
		f, err := strconv.ParseFloat(text, 64)
		*b = flexBool(err == nil && f != 0)
	}
	return nil
}

// isJSONNumber reports whether a raw JSON value is a number literal.
func isJSONNumber(data []byte) bool {
	return len(data) > 0 && (data[0] == '-' || data[0] >= '0' && data[0] <= '9')
}

// flexTime accepts the timestamp layouts Kandji uses ("" means never) and reads anything it cannot
// parse as the zero time rather than failing the whole record.
type flexTime time.Time

// timeLayouts are tried in order; the space-separated ones cover Kandji's Python-style stamps.
func timeLayouts() [4]string {
	return [...]string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	}
}

// UnmarshalJSON implements the tolerance described on flexTime; times are returned in UTC.
func (t *flexTime) UnmarshalJSON(data []byte) error {
	*t = flexTime{}
	var s flexString
	if err := s.UnmarshalJSON(data); err != nil {
		return err
	}
	text := strings.TrimSpace(string(s))
	if text == "" {
		return nil
	}
	for _, layout := range timeLayouts() {
		if v, err := time.Parse(layout, text); err == nil {
			*t = flexTime(v.UTC())
			return nil
		}
	}
	return nil
}
