package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// LockFileName is the lock that makes one process own a state directory.
const LockFileName = "lockbot.db.lock"

// holder is who owns a state directory, written into the lock file so a
// refused second process can say whom to stop.
type holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// ErrInUse is wrapped by Open's error when another process holds the
// directory.
var ErrInUse = errors.New("the state directory is in use by another lockbot")

// dirLock is a held lock on a state directory.
type dirLock struct{ f *os.File }

// lockDir takes the directory's lock without waiting, and records this
// process as its holder.
func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		h := readHolder(path)
		_ = f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s (pid %d on host %s since %s); stop it, or give this one another LOCKBOT_STATE_DIR, or use LOCKBOT_DATABASE_URL to run several replicas",
				ErrInUse, path, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
		}
		return nil, err
	}
	host, _ := os.Hostname()
	data, _ := json.Marshal(holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(data, '\n'), 0)
		_ = f.Sync()
	}
	return &dirLock{f: f}, nil
}

// readHolder reads who holds the lock; a torn or empty file reads as zero.
func readHolder(path string) holder {
	var h holder
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &h)
	}
	return h
}

// release gives the directory up.
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// errLocked is tryLock's answer when someone else holds the lock.
var errLocked = errors.New("locked")
