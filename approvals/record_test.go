package approvals

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func TestRecordCheck(t *testing.T) {
	tests := []struct {
		name    string
		rec     Record
		pin     bool   // refused as naming a PIN
		wantErr string // "" when accepted
	}{
		{"minimal", Record{Time: t0, Kind: KindOpened}, false, ""},
		{"unknown kind is fine", Record{Time: t0, Kind: "whatever"}, false, ""},
		{"ordinary details", Record{Time: t0, Kind: KindApproved, Details: map[string]string{"approvers": "U1,U2", "lock_id": "L1"}}, false, ""},
		{"values are not inspected", Record{Time: t0, Kind: KindPINRevealed, Details: map[string]string{"code": "123456", "reason": "pin 4242"}}, false, ""},
		{"p_i_n is not pin", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"p_i_n": "x"}}, false, ""},
		{"PIN reveal records counts and serials", Record{Time: t0, Kind: KindPINRevealed, Details: map[string]string{"count": "2", "serials": "C02X,C02Y"}}, false, ""},

		{"pin", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"pin": "123456"}}, true, `(key "pin")`},
		{"PIN", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"PIN": "123456"}}, true, `(key "PIN")`},
		{"unlock_pin", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"unlock_pin": ""}}, true, `(key "unlock_pin")`},
		{"Pin_Code", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"Pin_Code": "1"}}, true, `(key "Pin_Code")`},
		{"pins_sent_to", Record{Time: t0, Kind: KindLockDone, Details: map[string]string{"pins_sent_to": "U1"}}, true, `(key "pins_sent_to")`},
		// As implemented, any key containing the letters p-i-n is refused,
		// words that merely contain them included.
		{"spinner", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"spinner": "x"}}, true, `(key "spinner")`},
		{"shipping", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"shipping": "x"}}, true, `(key "shipping")`},
		{"opinion", Record{Time: t0, Kind: KindOpened, Details: map[string]string{"opinion": "x"}}, true, `(key "opinion")`},
		{"pin checked before kind and time", Record{Details: map[string]string{"pin": "1"}}, true, `(key "pin")`},

		{"no kind", Record{Time: t0}, false, "approvals: journal record without a kind"},
		{"no time", Record{Kind: KindOpened}, false, "approvals: journal record without a time"},
		{"neither: kind first", Record{}, false, "approvals: journal record without a kind"},
		{"no kind, empty details", Record{Time: t0, Details: map[string]string{}}, false, "without a kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.Check()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.pin, errors.Is(err, errPINDetail), "errors.Is(%v, errPINDetail)", err)
		})
	}
}

func TestRecordCheckDoesNotEchoTheValue(t *testing.T) {
	err := Record{Time: t0, Kind: KindOpened, Details: map[string]string{"pin": "918273"}}.Check()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "918273")
}

func TestFilterMatch(t *testing.T) {
	rec := Record{Time: t0, Kind: KindApproved, ID: "R1", Actor: "U1", Target: "bob@example.com"}
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name string
		f    Filter
		rec  Record
		want bool
	}{
		{"zero filter matches all", Filter{}, rec, true},
		{"zero filter matches a zero record", Filter{}, Record{}, true},

		{"since: at", Filter{Since: t0}, rec, true},
		{"since: after", Filter{Since: t0.Add(-time.Nanosecond)}, rec, true},
		{"since: before", Filter{Since: t0.Add(time.Nanosecond)}, rec, false},
		{"since: same instant, other zone", Filter{Since: t0.In(tokyo)}, rec, true},
		{"since: excludes a zero time", Filter{Since: t0}, Record{Kind: KindApproved}, false},

		{"until: strictly before", Filter{Until: t0.Add(time.Nanosecond)}, rec, true},
		{"until: at is excluded", Filter{Until: t0}, rec, false},
		{"until: at, other zone", Filter{Until: t0.In(tokyo)}, rec, false},
		{"until: after", Filter{Until: t0.Add(-time.Second)}, rec, false},
		{"since and until: inside", Filter{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)}, rec, true},
		{"since after until selects nothing", Filter{Since: t0.Add(time.Hour), Until: t0.Add(-time.Hour)}, rec, false},

		{"kinds: one of", Filter{Kinds: []Kind{KindOpened, KindApproved}}, rec, true},
		{"kinds: none of", Filter{Kinds: []Kind{KindOpened, KindDenied}}, rec, false},
		{"kinds: empty slice is no filter", Filter{Kinds: []Kind{}}, rec, true},
		{"kinds: exact string", Filter{Kinds: []Kind{"request.APPROVED"}}, rec, false},

		{"target: same", Filter{Target: "bob@example.com"}, rec, true},
		{"target: case and space folded", Filter{Target: "  BOB@Example.com\t"}, rec, true},
		{"target: record side folded", Filter{Target: "bob@example.com"}, Record{Time: t0, Target: " Bob@EXAMPLE.com "}, true},
		{"target: other person", Filter{Target: "eve@example.com"}, rec, false},
		{"target: look-alike", Filter{Target: "b\u043eb@example.com"}, rec, false},
		{"target: record without one", Filter{Target: "bob@example.com"}, Record{Time: t0}, false},
		{"target: not a substring match", Filter{Target: "example.com"}, rec, false},

		{"id: same", Filter{ID: "R1"}, rec, true},
		{"id: case matters", Filter{ID: "r1"}, rec, false},
		{"id: other", Filter{ID: "R2"}, rec, false},
		{"id: record without one", Filter{ID: "R1"}, Record{Time: t0}, false},

		{"all set, all pass", Filter{Since: t0, Until: t0.Add(time.Second), Kinds: []Kind{KindApproved}, Target: "BOB@example.com", ID: "R1"}, rec, true},
		{"all set, only id fails", Filter{Since: t0, Until: t0.Add(time.Second), Kinds: []Kind{KindApproved}, Target: "bob@example.com", ID: "R9"}, rec, false},
		{"all set, only kind fails", Filter{Since: t0, Until: t0.Add(time.Second), Kinds: []Kind{KindDenied}, Target: "bob@example.com", ID: "R1"}, rec, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.f.Match(tt.rec))
		})
	}
}

func TestDetails(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want map[string]string
	}{
		{"none", nil, map[string]string{}},
		{"pairs", []string{"a", "1", "b", "2"}, map[string]string{"a": "1", "b": "2"}},
		{"empty values left out", []string{"a", "", "b", "2", "c", ""}, map[string]string{"b": "2"}},
		{"trailing key without value ignored", []string{"a", "1", "b"}, map[string]string{"a": "1"}},
		{"later value wins", []string{"a", "1", "a", "2"}, map[string]string{"a": "2"}},
		{"empty value does not erase an earlier one", []string{"a", "1", "a", ""}, map[string]string{"a": "1"}},
		{"empty key kept", []string{"", "v"}, map[string]string{"": "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Details(tt.kv...)
			require.NotNil(t, got)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, details(tt.kv...))
		})
	}
}
