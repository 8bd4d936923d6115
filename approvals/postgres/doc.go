// Package postgres is lockbot's shared store: every record of its work in
// one Postgres database, with River running the tasks from the same
// database, so that several replicas of lockbot (each its own process
// with its own Store) can share the work.
//
// What makes replicas safe:
//
//   - Update runs in READ COMMITTED and locks what it reads (SELECT … FOR
//     UPDATE; a key read as missing is locked with an advisory lock until
//     the end), so two Updates that read one record run one after the
//     other on any replicas. A deadlock between two of them is broken by
//     Postgres and the loser runs again, as the Store contract allows.
//   - AdmitTrigger and Once are single INSERT … ON CONFLICT statements,
//     atomic across replicas.
//   - Each Store keeps a heartbeat row written with the database's clock.
//     A task left running by a replica whose heartbeat stopped is made
//     available again for another replica; a replica that cannot write its
//     heartbeat cancels its own tasks first, so a task never runs twice
//     while the worker that has it is alive.
//   - Lead is a lease (a row with an expiry in database time) renewed
//     every few seconds; a holder that cannot renew cancels its work
//     before the lease can be taken, and a holder that stops releases it at
//     once.
//   - Commits that write send a notification, so the other replicas'
//     Changed channels (and River's workers) hear of new work at once.
//
// There is no write gate as in the embedded store: the pool has many
// connections, so an Urgent Update never queues behind the writes of
// tasks; it only waits for the row locks it needs.
//
// Open migrates lockbot's tables and River's under an advisory lock, so
// replicas that start at once migrate once, and refuses a database
// written by a newer lockbot.
package postgres
