// Package sqlite is lockbot's embedded store: every record of its work in
// one SQLite file, lockbot.db, in the state directory, with River running
// the tasks from the same file. It uses a pure-Go SQLite (no cgo), so `go
// run` and a distroless image work without a C toolchain.
//
// One process owns a directory at a time: Open takes an exclusive lock on
// lockbot.db.lock and refuses, within a second and naming the holder (its
// pid, host and start time), while another process holds it. That is what
// makes the embedded store safe: two bots on one directory would lock and
// report every event twice. Several replicas need the shared Postgres
// store instead.
//
// Writes are durable when Update returns (WAL with synchronous=FULL). A
// write that fails (a full disk, say) fails the Update and changes nothing,
// and later Updates succeed once the disk has room again; work already
// admitted resumes by itself.
package sqlite
