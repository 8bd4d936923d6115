package kandjitest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestContainsPIN(t *testing.T) {
	for text, want := range map[string]bool{
		"PIN 246810":                     true,
		"246810":                         true,
		`{"pin":"246810"}`:               true,
		"Mac: 246810, mini: 135791":      true,
		"12468105 then 246810":           true,
		`"delay":12468105`:               false,
		"ts 1796129919.246810":           false,
		"2026-12-01T13:19:51.246810328Z": false,
		"":                               false,
	} {
		assert.Equal(t, want, ContainsPIN(text, "246810"), text)
	}
	assert.False(t, ContainsPIN("anything", ""), "a device without a PIN has nothing to leak")
}
