package kandji

// LockStatus is what Kandji confirmed about a lock.
type LockStatus int

const (
	// LockNoOutcome is the zero value, in a LockResult that comes with an error other than
	// ErrUnconfirmed: nothing is known about the lock beyond that error.
	LockNoOutcome LockStatus = iota
	// LockAccepted: Kandji accepted the lock POST (200) and queued the command now.
	LockAccepted
	// LockPending: Kandji refused this POST, and its command list shows a lock of the device
	// pending, running or deferred by the device (someone's earlier lock, or an earlier attempt
	// whose answer was lost).
	LockPending
	// LockAlreadyDone: Kandji refused this POST, and its command list shows the device's latest
	// lock completed.
	LockAlreadyDone
	// LockUnconfirmed: Kandji refused this POST, and its command list could not be read to tell
	// whether a lock is on its way. Lock returns it together with an ErrUnconfirmed error; it
	// must never be reported as locked.
	LockUnconfirmed
)

// String names the status for logs, metrics and cards.
func (s LockStatus) String() string {
	switch s {
	case LockAccepted:
		return "accepted"
	case LockPending:
		return "pending"
	case LockAlreadyDone:
		return "already locked"
	case LockUnconfirmed:
		return "unconfirmed"
	}
	return "no outcome"
}

// Confirmed reports whether Kandji confirmed that the device is locked or a lock is on its way.
func (s LockStatus) Confirmed() bool {
	return s == LockAccepted || s == LockPending || s == LockAlreadyDone
}

// LockResult is the outcome of Lock.
type LockResult struct {
	// Status is what Kandji confirmed.
	Status LockStatus
	// PIN is the Mac unlock PIN from an accepted lock's answer; "" for other platforms, for
	// every other status, or when the answer carried none (read it with UnlockPIN then).
	PIN string
	// Detail explains Status in a phrase for people, e.g. "DeviceLock is pending since
	// 2025-06-01T09:00:00Z"; "" for LockAccepted. It never holds a PIN.
	Detail string
	// AlreadyLocked is set for LockPending and LockAlreadyDone.
	//
	// Deprecated: read Status, which also tells LockUnconfirmed apart.
	AlreadyLocked bool
}
