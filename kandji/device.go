package kandji

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is the person a device is assigned to in Kandji.
type User struct {
	// ID is Kandji's user ID: a UUID, or the text of an old integer ID.
	ID string
	// Email is the address the device is matched on.
	Email string
	// Name is the display name.
	Name string
	// IsArchived is set once the user was removed from the directory integration.
	IsArchived bool
}

// Device is one device record from GET /devices or GET /devices/{id}, decoded tolerantly (see
// UnmarshalJSON).
type Device struct {
	// ID is Kandji's device_id, the key for every device endpoint.
	ID string
	// Name, Model, Serial, Platform ("Mac", "iPhone", "iPad", "AppleTV", …) and OSVersion
	// describe the device for people and for platform-specific behaviour.
	Name, Model, Serial, Platform, OSVersion string
	// AssetTag, BlueprintName and LostModeStatus are shown to people as they come.
	AssetTag, BlueprintName, LostModeStatus string
	// LastCheckIn is zero when the device never checked in (or the time was unreadable).
	LastCheckIn time.Time
	// User is nil when the device is unassigned (the API sends "" or null).
	User *User
	// MDMEnabled, AgentInstalled, IsMissing and IsRemoved are Kandji's status flags.
	MDMEnabled, AgentInstalled, IsMissing, IsRemoved bool
}

// Email returns the assigned user's email, or "" when the device is unassigned.
func (d Device) Email() string {
	if d.User == nil {
		return ""
	}
	return d.User.Email
}

// IsMac reports whether the device is a Mac, the only platform whose lock returns an unlock PIN.
func (d Device) IsMac() bool {
	return asciiEqualFold(d.Platform, "Mac")
}

// wireDevice mirrors Kandji's JSON. Every field is tolerant of the type drift seen in the wild so
// that an odd cosmetic field can never stop a person's devices from being found and locked.
type wireDevice struct {
	DeviceID       flexString `json:"device_id"`
	DeviceName     flexString `json:"device_name"`
	Model          flexString `json:"model"`
	SerialNumber   flexString `json:"serial_number"`
	Platform       flexString `json:"platform"`
	OSVersion      flexString `json:"os_version"`
	AssetTag       flexString `json:"asset_tag"`
	BlueprintName  flexString `json:"blueprint_name"`
	LostModeStatus flexString `json:"lost_mode_status"`
	LastCheckIn    flexTime   `json:"last_check_in"`
	User           userField  `json:"user"`
	MDMEnabled     flexBool   `json:"mdm_enabled"`
	AgentInstalled flexBool   `json:"agent_installed"`
	IsMissing      flexBool   `json:"is_missing"`
	IsRemoved      flexBool   `json:"is_removed"`
}

// UnmarshalJSON decodes a Kandji device record. It accepts "user" as an object, "" or null;
// user.id as a string or a number; timestamps in RFC 3339 or "2006-01-02 15:04:05.999999-07:00"
// form (or "" for never); booleans as JSON booleans or "True"/"False" strings; and ignores
// unknown fields. Only a record without a device_id is refused, since it cannot be acted on.
func (d *Device) UnmarshalJSON(data []byte) error {
	var w wireDevice
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("decoding device: %w", err)
	}
	id := strings.TrimSpace(string(w.DeviceID))
	if id == "" {
		return errors.New("decoding device: record has no device_id")
	}
	*d = Device{
		ID:             id,
		Name:           string(w.DeviceName),
		Model:          string(w.Model),
		Serial:         string(w.SerialNumber),
		Platform:       string(w.Platform),
		OSVersion:      string(w.OSVersion),
		AssetTag:       string(w.AssetTag),
		BlueprintName:  string(w.BlueprintName),
		LostModeStatus: string(w.LostModeStatus),
		LastCheckIn:    time.Time(w.LastCheckIn),
		User:           w.User.user,
		MDMEnabled:     bool(w.MDMEnabled),
		AgentInstalled: bool(w.AgentInstalled),
		IsMissing:      bool(w.IsMissing),
		IsRemoved:      bool(w.IsRemoved),
	}
	return nil
}

// userField holds "user", which Kandji sends as an object, as "" when nobody is assigned, or null.
type userField struct{ user *User }

// UnmarshalJSON keeps an object and treats every other shape as "unassigned".
func (f *userField) UnmarshalJSON(data []byte) error {
	f.user = nil
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil
	}
	var w struct {
		ID         flexString `json:"id"`
		Email      flexString `json:"email"`
		Name       flexString `json:"name"`
		IsArchived flexBool   `json:"is_archived"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	u := User{
		ID:         strings.TrimSpace(string(w.ID)),
		Email:      trimASCIISpace(string(w.Email)),
		Name:       string(w.Name),
		IsArchived: bool(w.IsArchived),
	}
	if u.ID != "" || u.Email != "" || u.Name != "" {
		f.user = &u
	}
	return nil
}

// decodePage decodes a device list: a JSON array, or (as one Kandji documentation example shows)
// a single device object.
func decodePage(body []byte) ([]Device, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("decoding devices: empty response")
	}
	switch body[0] {
	case '[':
		var ds []Device
		if err := json.Unmarshal(body, &ds); err != nil {
			return nil, err
		}
		return ds, nil
	case '{':
		var d Device
		if err := json.Unmarshal(body, &d); err != nil {
			return nil, err
		}
		return []Device{d}, nil
	}
	return nil, errors.New("decoding devices: response is not a JSON array of devices")
}

// decodeDevice decodes the answer of GET /devices/{id}.
func decodeDevice(body []byte) (Device, error) {
	var d Device
	if err := json.Unmarshal(bytes.TrimSpace(body), &d); err != nil {
		return Device{}, err
	}
	return d, nil
}
