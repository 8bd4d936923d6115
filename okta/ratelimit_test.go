package okta

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRateLimitWait(t *testing.T) {
	date := time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	h := func(d, reset string) http.Header { return http.Header{"Date": {d}, "X-Rate-Limit-Reset": {reset}} }
	at := date.Format(http.TimeFormat)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"reset ahead", h(at, strconv.FormatInt(date.Unix()+29, 10)), 30 * time.Second},
		{"reset now", h(at, strconv.FormatInt(date.Unix(), 10)), time.Second},
		{"reset past", h(at, strconv.FormatInt(date.Unix()-5, 10)), 0},
		{"no date", h("", "1"), 0},
		{"bad reset", h(at, "soon"), 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, rateLimitWait(tt.h), tt.name)
	}
}

// FuzzRateLimitWait: headers from Okta never yield a negative wait or a
// panic, however odd they are.
func FuzzRateLimitWait(f *testing.F) {
	f.Add("Mon, 06 May 2024 12:00:00 GMT", "1714996830")
	f.Add("Mon, 06 May 2024 12:00:00 GMT", "-9223372036854775808")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, date, reset string) {
		got := rateLimitWait(http.Header{"Date": {date}, "X-Rate-Limit-Reset": {reset}})
		assert.GreaterOrEqual(t, got, time.Duration(0))
	})
}
