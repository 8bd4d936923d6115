package approvals

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLockBurst measures a burst of 1,000 locks on a persisted store:
// time and disk bytes per lock, and how many snapshots the burst rewrote.
// "automatic" is an Okta burst (OpenAutomatic, which starts in executing,
// then Finish); "manual" is the two-person path (Open, Approve, Begin,
// Finish).
func BenchmarkLockBurst(b *testing.B) {
	const burst = 1000
	nr := NewRequest{Target: target, Requester: "okta", Devices: sampleDevices(),
		Origin: Origin{EventType: "user.lifecycle.suspend", EventID: "evt-1"}}
	must := func(r Request, err error) Request {
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	paths := []struct {
		name string
		lock func(ctx context.Context, e *Engine)
	}{
		{"automatic", func(ctx context.Context, e *Engine) {
			r := must(e.OpenAutomatic(ctx, nr))
			must(e.Finish(ctx, r.ID, true, "2 of 2 devices locked"))
		}},
		{"manual", func(ctx context.Context, e *Engine) {
			r := must(e.Open(ctx, nr))
			must(e.Approve(ctx, r.ID, approverA))
			must(e.Begin(ctx, r.ID))
			must(e.Finish(ctx, r.ID, true, "2 of 2 devices locked"))
		}},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			ctx := context.Background()
			var elapsed time.Duration
			var written int64
			var snapshots int
			for b.Loop() {
				b.StopTimer()
				store, err := OpenStore(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				e := NewEngine(store, approverSet(approverA))
				b.StartTimer()
				start := time.Now()
				for range burst {
					p.lock(ctx, e)
				}
				elapsed += time.Since(start)
				b.StopTimer()
				written += store.disk.written
				snapshots += store.disk.snapshots
				if err := store.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			locks := float64(b.N * burst)
			b.ReportMetric(float64(elapsed.Nanoseconds())/locks, "ns/lock")
			b.ReportMetric(float64(written)/locks, "disk-B/lock")
			b.ReportMetric(float64(snapshots)/float64(b.N), "snapshots/burst")
		})
	}
}
