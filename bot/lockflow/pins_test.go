package lockflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/bot/lockflow"
)

// TestPINRedactsEverywhere: every way Go has of printing a value shows
// "[redacted]" for a PIN; only Reveal gives the digits.
func TestPINRedactsEverywhere(t *testing.T) {
	p := lockflow.PIN("493817")
	dp := lockflow.DevicePIN{PIN: p}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "pin", p, "device", dp)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("y", "pin", p, "device", dp)
	js, err := json.Marshal(dp)
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprint(p), fmt.Sprintf("%v %s %q %d %x %#v %+v", p, p, p, p, p, p, dp),
		logs.String(), string(js), fmt.Errorf("wrapped %v", p).Error(),
	} {
		assert.NotContains(t, out, "493817")
	}
	assert.Equal(t, "493817", p.Reveal())
}
