//go:build !unix

package sqlite

import "os"

// tryLock is a no-op where flock does not exist: there lockbot relies on
// the operator running one process per directory, as the README asks.
func tryLock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
