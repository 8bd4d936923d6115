package kandji

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

func TestDecodePageQuirks(t *testing.T) {
	got, err := decodePage(fixture(t, "devices_quirks.json"))
	require.NoError(t, err)
	want := []Device{
		{
			ID: "0a6f3c1e-5b2d-4c8e-9f10-3d2a1b4c5e60", Name: "Alice's MacBook Pro",
			Model: "MacBook Pro (14-inch, 2023)", Serial: "C02QUIRK0001", Platform: "Mac", OSVersion: "14.5",
			AssetTag: "IT-0042", BlueprintName: "Engineering",
			LastCheckIn: time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC),
			User: &User{ID: "7d1c9e4a-2b3f-4a5c-8d6e-9f0a1b2c3d4e", Email: "alice@corp.example",
				Name: "Alice Example"},
			MDMEnabled: true, AgentInstalled: true,
		},
		{
			ID: "1b7e4d2f-6c3e-4d9f-a021-4e3b2c5d6f71", Name: "Lobby iPad", Model: "iPad (9th generation)",
			Serial: "DMQUIRK0002", Platform: "iPad", OSVersion: "17.4", BlueprintName: "Kiosk",
			LostModeStatus: "ENABLED",
			LastCheckIn:    time.Date(2025, 2, 1, 8, 20, 30, 500000000, time.UTC),
			MDMEnabled:     true, IsMissing: true,
		},
		{
			ID: "2c8f5e3a-7d4f-4ea0-b132-5f4c3d6e7a82", Name: "Spare iPhone", Model: "iPhone 14",
			Serial: "FQUIRK0003", Platform: "iPhone", OSVersion: "17.2.1",
			MDMEnabled: true, IsRemoved: true,
		},
		{
			ID: "3d9a6f4b-8e5a-4fb1-c243-6a5d4e7f8b93", Name: "Bob's Mac mini", Model: "Mac mini (M2, 2023)",
			Serial: "H2QUIRK0004", Platform: "Mac", OSVersion: "14", AssetTag: "77", BlueprintName: "Facilities",
			LastCheckIn: time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC),
			User:        &User{ID: "1234", Email: "Bob.Builder+it@Corp.Example", Name: "Bob Builder", IsArchived: true},
			MDMEnabled:  true, AgentInstalled: true,
		},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, "alice@corp.example", got[0].Email())
	assert.Empty(t, got[1].Email(), "unassigned device")
	assert.True(t, got[0].IsMac())
	assert.False(t, got[1].IsMac())
}

func TestDeviceUnmarshalQuirks(t *testing.T) {
	tests := []struct {
		name  string
		extra string // JSON members added to a minimal record
		check func(t *testing.T, d Device)
	}{
		{"user empty string", `"user": ""`, func(t *testing.T, d Device) { assert.Nil(t, d.User) }},
		{"user null", `"user": null`, func(t *testing.T, d Device) { assert.Nil(t, d.User) }},
		{"user empty object", `"user": {}`, func(t *testing.T, d Device) { assert.Nil(t, d.User) }},
		{"user array", `"user": ["x"]`, func(t *testing.T, d Device) { assert.Nil(t, d.User) }},
		{"user number", `"user": 5`, func(t *testing.T, d Device) { assert.Nil(t, d.User) }},
		{"user integer id", `"user": {"id": 42, "email": " A@B.example "}`, func(t *testing.T, d Device) {
			assert.Equal(t, &User{ID: "42", Email: "A@B.example"}, d.User)
		}},
		{"user null fields", `"user": {"id": null, "email": "a@b.example", "name": null, "is_archived": null}`,
			func(t *testing.T, d Device) { assert.Equal(t, &User{Email: "a@b.example"}, d.User) }},
		{"rfc3339 offset", `"last_check_in": "2024-07-23T14:11:37.150080+02:00"`, func(t *testing.T, d Device) {
			assert.Equal(t, time.Date(2024, 7, 23, 12, 11, 37, 150080000, time.UTC), d.LastCheckIn)
		}},
		{"space style", `"last_check_in": "2023-01-18 21:46:26.879113+00:00"`, func(t *testing.T, d Device) {
			assert.Equal(t, time.Date(2023, 1, 18, 21, 46, 26, 879113000, time.UTC), d.LastCheckIn)
		}},
		{"space style Z", `"last_check_in": "2023-01-18 21:46:26Z"`, func(t *testing.T, d Device) {
			assert.Equal(t, time.Date(2023, 1, 18, 21, 46, 26, 0, time.UTC), d.LastCheckIn)
		}},
		{"no zone", `"last_check_in": "2023-01-18T21:46:26.5"`, func(t *testing.T, d Device) {
			assert.Equal(t, time.Date(2023, 1, 18, 21, 46, 26, 500000000, time.UTC), d.LastCheckIn)
		}},
		{"never", `"last_check_in": ""`, func(t *testing.T, d Device) { assert.True(t, d.LastCheckIn.IsZero()) }},
		{"garbage time", `"last_check_in": "yesterday"`, func(t *testing.T, d Device) { assert.True(t, d.LastCheckIn.IsZero()) }},
		{"numeric time", `"last_check_in": 1700000000`, func(t *testing.T, d Device) { assert.True(t, d.LastCheckIn.IsZero()) }},
		{"bool strings", `"mdm_enabled": "True", "agent_installed": "false", "is_missing": "1", "is_removed": "yes"`,
			func(t *testing.T, d Device) {
				assert.Equal(t, [4]bool{true, false, true, false}, [4]bool{d.MDMEnabled, d.AgentInstalled, d.IsMissing, d.IsRemoved})
			}},
		{"bool numbers", `"mdm_enabled": 1, "agent_installed": 0, "is_missing": 2.5, "is_removed": null`,
			func(t *testing.T, d Device) {
				assert.Equal(t, [4]bool{true, false, true, false}, [4]bool{d.MDMEnabled, d.AgentInstalled, d.IsMissing, d.IsRemoved})
			}},
		{"odd string fields", `"model": {"name": "x"}, "platform": ["Mac"], "os_version": 15.1, "device_name": true`,
			func(t *testing.T, d Device) {
				assert.Equal(t, []string{"", "", "15.1", "true"}, []string{d.Model, d.Platform, d.OSVersion, d.Name})
			}},
		{"platform case", `"platform": "mac"`, func(t *testing.T, d Device) { assert.True(t, d.IsMac()) }},
		{"unknown fields", `"api_level": "", "volumes": [{"a": [1, {"b": null}]}], "general": {"x": 1}`,
			func(t *testing.T, d Device) { assert.Equal(t, "dev-1", d.ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Device
			require.NoError(t, json.Unmarshal([]byte(`{"device_id": "dev-1", `+tt.extra+`}`), &d))
			tt.check(t, d)
		})
	}
}

func TestDecodePageErrors(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"empty", "  ", "empty response"},
		{"null", "null", "not a JSON array"},
		{"string", `"oops"`, "not a JSON array"},
		{"truncated", `[{"device_id": "a"`, "unexpected end"},
		{"no device_id", `[{"device_name": "x"}]`, "no device_id"},
		{"blank device_id", `[{"device_id": "  "}]`, "no device_id"},
		{"object device_id", `[{"device_id": {"id": "x"}}]`, "no device_id"},
		{"element not an object", `[1]`, "cannot unmarshal"},
		{"bad string escape", `[{"device_id": "a", "model": "\x"}]`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodePage([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	ds, err := decodePage(fixture(t, "device_mac.json"))
	require.NoError(t, err, "a single object is read as a page of one")
	require.Len(t, ds, 1)
	assert.Equal(t, "K7SINGLE0005", ds[0].Serial)
	ds, err = decodePage([]byte("[]"))
	require.NoError(t, err)
	assert.Empty(t, ds)
}

// trapTenant holds alice's two devices among users whose emails contain or extend hers.
func trapTenant() []kandjitest.Device {
	return []kandjitest.Device{
		{ID: "alice-mac", Platform: "Mac", UserEmail: "alice@corp.example", Serial: "S1"},
		{ID: "alice-phone", Platform: "iPhone", UserEmail: "Alice@Corp.Example", Serial: "S2"},
		{ID: "xalice-mac", Platform: "Mac", UserEmail: "xalice@corp.example", Serial: "S3"},
		{ID: "evil-mac", Platform: "Mac", UserEmail: "alice@corp.example.evil", Serial: "S4"},
		{ID: "tagged-mac", Platform: "Mac", UserEmail: "alice+it@corp.example", Serial: "S5"},
		{ID: "shared-ipad", Platform: "iPad", Serial: "S6"},
		{ID: "bob-mac", Platform: "Mac", UserEmail: "bob@corp.example", Serial: "S7"},
	}
}

// TestDevicesByEmail asks with both of Kandji's email filters, because the fake (like a strict
// Kandji) matches user_email_exact byte for byte: the "containing" filter finds the devices whose
// stored email differs in case or surrounding spaces, and the client-side check drops the rest.
func TestDevicesByEmail(t *testing.T) {
	c, fake := fakeTenant(t, trapTenant())
	tests := []struct {
		email   string
		wantIDs []string
		encoded string
	}{
		{"alice@corp.example", []string{"alice-mac", "alice-phone"}, "alice%40corp.example"},
		{"  ALICE@corp.EXAMPLE ", []string{"alice-mac", "alice-phone"}, "ALICE%40corp.EXAMPLE"},
		{"alice+it@corp.example", []string{"tagged-mac"}, "alice%2Bit%40corp.example"},
		{"xalice@corp.example", []string{"xalice-mac"}, "xalice%40corp.example"},
		{"bob@corp.example", []string{"bob-mac"}, "bob%40corp.example"},
		{"nobody@corp.example", nil, "nobody%40corp.example"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			before := len(fake.Requests())
			ds, err := c.DevicesByEmail(t.Context(), tt.email)
			require.NoError(t, err)
			assert.Equal(t, tt.wantIDs, deviceIDs(ds))
			reqs := fake.Requests()[before:]
			require.Len(t, reqs, 2)
			assert.Contains(t, reqs[0].RawQuery, "&user_email_exact="+tt.encoded)
			assert.Contains(t, reqs[1].RawQuery, "&user_email="+tt.encoded)
			assert.NotContains(t, reqs[1].RawQuery, "user_email_exact")
		})
	}
}

// TestDevicesByEmailStoredOddly finds devices whose assignment Kandji stores with surrounding
// spaces or in another case, which user_email_exact alone would miss, and never one whose email
// differs outside ASCII.
func TestDevicesByEmailStoredOddly(t *testing.T) {
	c, fake := fakeTenant(t, []kandjitest.Device{
		{ID: "bob-mac", Serial: "B1", UserEmail: "bob@corp.example"},
		{ID: "bob-phone", Serial: "B2", Platform: "iPhone", UserEmail: "bob@corp.example"},
		{ID: "kate-mac", Serial: "K1", UserEmail: "kate@corp.example"},
		{ID: "kelvin-mac", Serial: "K2", UserEmail: "\u212Aate@corp.example"},
		{ID: "nbsp-mac", Serial: "B3", UserEmail: "bob@corp.example"},
	})
	require.True(t, fake.SetUserEmail("bob-phone", " Bob@Corp.Example "))
	require.True(t, fake.SetUserEmail("nbsp-mac", "\u00a0bob@corp.example"))

	ds, err := c.DevicesByEmail(t.Context(), "bob@corp.example")
	require.NoError(t, err)
	assert.Equal(t, []string{"bob-mac", "bob-phone"}, deviceIDs(ds), "spaces and ASCII case do not matter; U+00A0 does")
	assert.Equal(t, "Bob@Corp.Example", ds[1].Email(), "reported trimmed, in Kandji's case")

	ds, err = c.DevicesByEmail(t.Context(), "KATE@corp.example")
	require.NoError(t, err)
	assert.Equal(t, []string{"kate-mac"}, deviceIDs(ds), "KELVIN SIGN is not K")
}

// deviceIDs lists the IDs of ds in order (nil for none).
func deviceIDs(ds []Device) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestDevicesByEmailRechecksClientSide serves every trap device whatever the filter says, as a
// server that ignores or misreads user_email_exact would.
func TestDevicesByEmailRechecksClientSide(t *testing.T) {
	c, mux := setupMux(t)
	mux.HandleFunc("GET /devices", respond(200, "application/json", string(fixture(t, "devices_email_traps.json"))))
	for _, email := range []string{"Alice@corp.example", "kate@corp.example"} {
		ds, err := c.DevicesByEmail(t.Context(), email)
		require.NoError(t, err)
		want := map[string][]string{
			"Alice@corp.example": {"trap-0001", "trap-0002", "trap-0008"},
			"kate@corp.example":  {"trap-0009"},
		}[email]
		assert.Equal(t, want, deviceIDs(ds), email)
	}
}

func TestDevicesByEmailRefusesBadInput(t *testing.T) {
	c, fake := fakeTenant(t, trapTenant())
	for _, email := range []string{
		"", "   ", "alice", "@corp.example", "alice@", "alice@@corp.example", "al ice@corp.example",
		"Alice <alice@corp.example>", "alice@corp.example, bob@corp.example", "alice\n@corp.example",
		strings.Repeat("a", 250) + "@corp.example",
	} {
		t.Run(email, func(t *testing.T) {
			_, err := c.DevicesByEmail(t.Context(), email)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
	assert.Empty(t, fake.Requests(), "no request leaves for a refused input")
}

// manyDevices returns n devices of one person with serials in order.
func manyDevices(n int, email string) []kandjitest.Device {
	ds := make([]kandjitest.Device, n)
	for i := range ds {
		ds[i] = kandjitest.Device{ID: fmt.Sprintf("dev-%04d", i), Serial: fmt.Sprintf("SER%05d", i), UserEmail: email}
	}
	return ds
}

func TestPaging(t *testing.T) {
	tests := []struct {
		devices     int
		wantOffsets []string
	}{
		{0, []string{"0"}},
		{299, []string{"0"}},
		{300, []string{"0", "300"}},
		{301, []string{"0", "300"}},
		{650, []string{"0", "300", "600"}},
		{900, []string{"0", "300", "600", "900"}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.devices), func(t *testing.T) {
			ds := manyDevices(tt.devices, "alice@corp.example")
			ds = append(ds, kandjitest.Device{ID: "other", Serial: "ZZZ", UserEmail: "bob@corp.example"})
			c, fake := fakeTenant(t, ds)

			got, err := c.DevicesByEmail(t.Context(), "alice@corp.example")
			require.NoError(t, err)
			assert.Len(t, got, tt.devices)
			// Both filters are paged through, one after the other.
			assert.Equal(t, append(slices.Clone(tt.wantOffsets), tt.wantOffsets...), offsets(t, fake.Requests()))

			before := len(fake.Requests())
			n := 0
			for d, err := range c.Inventory(t.Context()) {
				require.NoError(t, err)
				n++
				assert.NotEmpty(t, d.ID)
			}
			assert.Equal(t, tt.devices+1, n, "inventory sees everyone's devices")
			assert.Len(t, fake.Requests()[before:], (tt.devices+1)/pageSize+1)
		})
	}
}

// offsets lists the offset parameter of each list request.
func offsets(t *testing.T, reqs []kandjitest.Request) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		require.Contains(t, r.RawQuery, "limit=300")
		require.Contains(t, r.RawQuery, "ordering=serial_number")
		for _, kv := range strings.Split(r.RawQuery, "&") {
			if v, ok := strings.CutPrefix(kv, "offset="); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func TestInventoryStopsWhenConsumerBreaks(t *testing.T) {
	tests := []struct {
		after, wantRequests int
	}{
		{1, 1},
		{300, 1},
		{301, 2},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.after), func(t *testing.T) {
			c, fake := fakeTenant(t, manyDevices(700, "alice@corp.example"))
			n := 0
			for _, err := range c.Inventory(t.Context()) {
				require.NoError(t, err)
				n++
				if n == tt.after {
					break
				}
			}
			assert.Len(t, fake.Requests(), tt.wantRequests)
		})
	}
}

// pageServer serves pages computed by page(offset) and counts the requests.
func pageServer(t *testing.T, page func(offset int) (int, string)) (*Client, *atomic.Int32) {
	t.Helper()
	c, mux := setupMux(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		offset, err := strconv.Atoi(r.URL.Query().Get("offset"))
		require.NoError(t, err)
		status, body := page(offset)
		respond(status, "application/json", body)(w, r)
	})
	return c, &calls
}

// pageJSON renders devices from..to-1 as a list page.
func pageJSON(from, to int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"device_id": "d%05d", "serial_number": "S%05d", "user": ""}`, i, i)
	}
	b.WriteByte(']')
	return b.String()
}

func TestInventoryPagingFaults(t *testing.T) {
	tests := []struct {
		name         string
		page         func(offset int) (int, string)
		wantDevices  int
		wantErr      error
		wantErrText  string
		wantRequests int32
	}{
		{
			name: "error on second page",
			page: func(offset int) (int, string) {
				if offset == 0 {
					return 200, pageJSON(0, 300)
				}
				return 403, `{"detail": "You do not have permission to perform this action."}`
			},
			wantDevices: 300, wantErr: ErrForbidden, wantErrText: `needs the "Device list" permission`, wantRequests: 2,
		},
		{
			name:        "server ignores offset",
			page:        func(int) (int, string) { return 200, pageJSON(0, 300) },
			wantDevices: 300, wantErrText: "does not seem to honour offset", wantRequests: 2,
		},
		{
			name: "list shifted between pages",
			page: func(offset int) (int, string) {
				from := max(offset-1, 0) // one device inserted before the second page was read
				return 200, pageJSON(from, min(from+300, 601))
			},
			wantDevices: 601, wantRequests: 3,
		},
		{
			name:        "invalid JSON",
			page:        func(int) (int, string) { return 200, `[{"device_id": "a"},` },
			wantErrText: "kandji: GET /devices:", wantRequests: 1,
		},
		{
			name: "page over 1 MiB",
			page: func(int) (int, string) {
				return 200, `[{"device_id": "a", "pad": "` + strings.Repeat("x", maxBody) + `"}]`
			},
			wantErrText: "exceeds 1 MiB", wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, calls := pageServer(t, tt.page)
			n := 0
			var gotErr error
			for _, err := range c.Inventory(t.Context()) {
				if err != nil {
					require.NoError(t, gotErr, "only one error is yielded")
					gotErr = err
					continue
				}
				n++
			}
			assert.Equal(t, tt.wantDevices, n)
			assert.Equal(t, tt.wantRequests, calls.Load())
			if tt.wantErrText == "" {
				require.NoError(t, gotErr)
				return
			}
			require.Error(t, gotErr)
			assert.Contains(t, gotErr.Error(), tt.wantErrText)
			if tt.wantErr != nil {
				assert.ErrorIs(t, gotErr, tt.wantErr)
			}
		})
	}
}

func TestDevice(t *testing.T) {
	c, fake := fakeTenant(t, []kandjitest.Device{{
		ID: "mac-1", Name: "Carol's Mac", Model: "MacBook Air", Serial: "C1", Platform: "Mac", OSVersion: "15.1",
		UserEmail: "carol@corp.example", UserName: "Carol", UserID: "u-carol",
		LastCheckIn: "2025-01-18 21:46:26.879113+00:00",
	}})
	d, err := c.Device(t.Context(), "mac-1")
	require.NoError(t, err)
	assert.Equal(t, Device{
		ID: "mac-1", Name: "Carol's Mac", Model: "MacBook Air", Serial: "C1", Platform: "Mac", OSVersion: "15.1",
		BlueprintName: "All Staff", LastCheckIn: time.Date(2025, 1, 18, 21, 46, 26, 879113000, time.UTC),
		User:       &User{ID: "u-carol", Email: "carol@corp.example", Name: "Carol"},
		MDMEnabled: true, AgentInstalled: true,
	}, d)

	_, err = c.Device(t.Context(), "missing-1")
	require.ErrorIs(t, err, ErrNotFound)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, Error{StatusCode: 404, Method: "GET", Route: "/devices/{id}",
		Message: "Unable to locate the resource in the Kandji tenant."}, *apiErr)

	requests := len(fake.Requests())
	for _, id := range []string{"", "../secrets", "a/b", "a b", "a?b=c", "ü", strings.Repeat("a", 129)} {
		_, err := c.Device(t.Context(), id)
		require.ErrorIs(t, err, ErrInvalidInput, "%q", id)
	}
	assert.Len(t, fake.Requests(), requests, "invalid IDs are refused before any request")
}

func TestDeviceBadBody(t *testing.T) {
	c, mux := setupMux(t)
	mux.HandleFunc("GET /devices/{id}", respond(200, "application/json", `{"device_name": "no id"}`))
	_, err := c.Device(t.Context(), "dev-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kandji: GET /devices/{id}: decoding device: record has no device_id")
}
