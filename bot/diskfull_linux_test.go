package bot

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
)

// smallDisk mounts a tmpfs of size bytes for the test, so the store can
// meet a full disk for real. It needs root; without it the test is skipped,
// except in CI, where it must run.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+itoa(size))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a small tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("a full disk needs a tmpfs mount, which needs root: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// fill writes a file until the disk has no room left and returns a
// function that frees it again.
func fill(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the disk: %v", err)
			break
		}
	}
	// Small writes may still fit in the last partial block.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	_ = f.Close()
	return func() { require.NoError(t, os.Remove(path)) }
}

// TestFullDiskDelaysALockButLosesNothing: the disk fills after the hook
// answered 200 and frees up later. The lock is only delayed: it resumes by
// itself once writes succeed again, with no restart, and is reported.
// While the store cannot be written, a new delivery answers 503 so Okta
// sends it again. (It used to say "will be retried after a restart", leave
// the person unlocked and journal a lock that never ran.)
func TestFullDiskDelaysALockButLosesNothing(t *testing.T) {
	disk := smallDisk(t, 8<<20)
	state := filepath.Join(disk, "state")
	require.NoError(t, copyDir(sqlitetest.Dir(t), state))
	h := newHarness(t, func(h *harness, _ *Config, _ *Deps) { h.dir = state })
	h.kandji.SetLatency(300 * time.Millisecond) // the disk fills while the lookup is under way
	h.deliver(suspend("ev-1", victim))
	free := fill(t, disk)
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "full") }, 30*time.Second, 10*time.Millisecond,
		"the store never met the full disk")
	assert.Equal(t, http.StatusServiceUnavailable, h.post(suspend("ev-2", "erin@corp.com")), "a delivery that cannot be stored is refused, so Okta retries it")

	// Hold the disk full until the lock itself has met it.
	require.Eventually(t, func() bool {
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "task failed; it will be tried again") && strings.Contains(l, "full") {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "the lock never met the full disk")
	free()
	h.kandji.SetLatency(0)
	report := h.report(victim, "Locked automatically")
	assert.Contains(t, report.AllText(), "3 of 3 devices secured")
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), id)
	}
	assert.Equal(t, http.StatusOK, h.post(suspend("ev-2", "erin@corp.com")), "and accepted once there is room again")
}

// copyDir copies the files of src into a new directory dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err == nil {
			_, err = io.Copy(out, in)
			_ = out.Close()
		}
		_ = in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
