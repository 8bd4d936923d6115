package kandji

import (
	"strings"
	"testing"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// BenchmarkLookup300People compares two ways to find the devices of 300 people in a tenant of
// 1,000 people with 3 devices each: one DevicesByEmail call per person, or one Inventory sweep.
// Besides wall time it reports the API calls per lookup and how long those calls take at the
// default rate budget, which is what really limits lockbot.
func BenchmarkLookup300People(b *testing.B) {
	const people, devicesEach, wanted = 1000, 3, 300
	fake := kandjitest.NewServer()
	b.Cleanup(fake.Close)
	emails := fake.Populate(people, devicesEach, "corp.example")
	targets := make([]string, 0, wanted)
	for i := 0; len(targets) < wanted; i += people / wanted {
		targets = append(targets, emails[i])
	}
	// An unlimited budget, so the benchmark measures the work rather than the rate limiter.
	c, err := New(fake.URL(), fake.Token(), WithRatePerHour(1<<30))
	if err != nil {
		b.Fatal(err)
	}

	report := func(b *testing.B, startRequests int) {
		calls := float64(len(fake.Requests())-startRequests) / float64(b.N)
		b.ReportMetric(calls, "calls/op")
		b.ReportMetric(calls/(DefaultRatePerHour/3600.0), "s-at-default-rate/op")
	}

	b.Run("per-person", func(b *testing.B) {
		start := len(fake.Requests())
		for b.Loop() {
			for _, email := range targets {
				ds, err := c.DevicesByEmail(b.Context(), email)
				if err != nil || len(ds) != devicesEach {
					b.Fatalf("DevicesByEmail(%s) = %d devices, %v", email, len(ds), err)
				}
			}
		}
		report(b, start)
	})

	b.Run("inventory-sweep", func(b *testing.B) {
		want := make(map[string]bool, len(targets))
		for _, email := range targets {
			want[strings.ToLower(email)] = true
		}
		start := len(fake.Requests())
		for b.Loop() {
			found := make(map[string][]Device, len(targets))
			for d, err := range c.Inventory(b.Context()) {
				if err != nil {
					b.Fatal(err)
				}
				if key := strings.ToLower(d.Email()); want[key] {
					found[key] = append(found[key], d)
				}
			}
			if len(found) != wanted {
				b.Fatalf("sweep found %d of %d people", len(found), wanted)
			}
		}
		report(b, start)
	})
}

// BenchmarkParseMessageHostilePage parses the worst page a server could send: 1 MiB of tiny
// script elements, each of which sends stripTags looking for its end. stripTags must stay linear,
// so this takes milliseconds, not minutes.
func BenchmarkParseMessageHostilePage(b *testing.B) {
	page := []byte(strings.Repeat("<script>x</script>", maxBody/len("<script>x</script>")))
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		_ = parseMessage(page)
	}
}
