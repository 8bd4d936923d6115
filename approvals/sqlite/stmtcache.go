package sqlite

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"

	"modernc.org/sqlite"
)

// maxCachedStmts bounds each connection's statement cache. lockbot's own
// queries and River's come to about a hundred distinct texts; queries
// whose text varies (an IN list of some length) take what is left and are
// evicted first, being the least recently used.
const maxCachedStmts = 256

// openCached opens dsn with a statement cache on every connection.
//
// database/sql prepares a statement afresh for every query it is handed as
// text, and SQLite's parser was the largest single cost under an
// offboarding burst (a third of the CPU, most of it River's fetch and
// completion queries, which this package cannot prepare itself). Parsing
// runs while the one write connection is held, so the hook's admission
// waited for it. Here each connection keeps what it prepared, by SQL text.
func openCached(dsn string) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{base}), nil
}

// cachingConnector opens connections that cache their statements.
type cachingConnector struct{ driver.Connector }

// Connect implements driver.Connector.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// cachingConn is one SQLite connection with its prepared statements.
// database/sql never uses a connection from two goroutines at once, so
// the cache needs no lock.
type cachingConn struct {
	conn  driver.Conn
	pc    driver.ConnPrepareContext
	bt    driver.ConnBeginTx
	stmts map[string]*list.Element // of lru
	// lru holds the *cachedStmt, from the least to the most recently used.
	lru *list.List
}

// cachedStmt is one prepared statement, in its connection's LRU list.
type cachedStmt struct {
	query string
	stmt  driver.Stmt
	exec  driver.StmtExecContext
	qry   driver.StmtQueryContext
	busy  bool // its rows are open: another use would reset them
}

// The interfaces the wrapped connection implements, forwarded so that
// database/sql keeps its context-aware paths (see sqlite.NewConnector).
var (
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

func newCachingConn(conn driver.Conn) (*cachingConn, error) {
	pc, ok1 := conn.(driver.ConnPrepareContext)
	bt, ok2 := conn.(driver.ConnBeginTx)
	_, ok3 := conn.(driver.Pinger)
	_, ok4 := conn.(driver.SessionResetter)
	_, ok5 := conn.(driver.Validator)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		_ = conn.Close()
		return nil, fmt.Errorf("the SQLite driver's connection (%T) lacks an interface the statement cache forwards", conn)
	}
	return &cachingConn{conn: conn, pc: pc, bt: bt, stmts: make(map[string]*list.Element), lru: list.New()}, nil
}

// Unwrap returns the SQLite connection, for the driver's own helpers.
func (c *cachingConn) Unwrap() driver.Conn { return c.conn }

// Prepare implements driver.Conn. Statements database/sql prepares
// explicitly are its to keep and close, so they bypass the cache.
func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

// PrepareContext implements driver.ConnPrepareContext.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pc.PrepareContext(ctx, query)
}

// Begin implements driver.Conn.
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.bt.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx implements driver.ConnBeginTx.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.bt.BeginTx(ctx, opts)
}

// Ping implements driver.Pinger.
func (c *cachingConn) Ping(ctx context.Context) error { return c.conn.(driver.Pinger).Ping(ctx) }

// ResetSession implements driver.SessionResetter.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid implements driver.Validator.
func (c *cachingConn) IsValid() bool { return c.conn.(driver.Validator).IsValid() }

// Close finalizes every cached statement, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.stmts, c.lru = nil, list.New()
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// ExecContext implements driver.ExecerContext.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	defer c.release(s)
	return s.exec.ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext. The statement stays busy
// until its rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := s.qry.QueryContext(ctx, args)
	if err != nil {
		c.release(s)
		return nil, err
	}
	return &cachedRows{Rows: rows, conn: c, stmt: s}, nil
}

// take returns query's statement, marked busy: the cached one when it is
// free, else a new one, cached unless a statement of that text is busy
// (a second query of the same text while the rows of the first are open,
// which then gets a statement of its own, finalized when it is done).
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		if s := e.Value.(*cachedStmt); !s.busy {
			c.lru.MoveToBack(e)
			s.busy = true
			return s, nil
		}
		return c.prepare(ctx, query, false)
	}
	return c.prepare(ctx, query, true)
}

func (c *cachingConn) prepare(ctx context.Context, query string, keep bool) (*cachedStmt, error) {
	st, err := c.pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	exec, ok1 := st.(driver.StmtExecContext)
	q, ok2 := st.(driver.StmtQueryContext)
	if !ok1 || !ok2 {
		_ = st.Close()
		return nil, fmt.Errorf("the SQLite driver's statement (%T) lacks the context methods", st)
	}
	s := &cachedStmt{query: query, stmt: st, exec: exec, qry: q, busy: true}
	if !keep {
		s.query = "" // not in the cache: closed when done
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		c.evict()
	}
	c.stmts[query] = c.lru.PushBack(s)
	return s, nil
}

// evict drops the least recently used statement that is not busy.
func (c *cachingConn) evict() {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if s := e.Value.(*cachedStmt); !s.busy {
			c.lru.Remove(e)
			delete(c.stmts, s.query)
			_ = s.stmt.Close()
			return
		}
	}
}

// release frees s for the next query, or closes it when it is a one-off.
func (c *cachingConn) release(s *cachedStmt) {
	s.busy = false
	if s.query == "" {
		_ = s.stmt.Close()
	}
}

// cachedRows frees its statement for the next query when closed. It
// forwards the column type methods SQLite's rows implement.
type cachedRows struct {
	driver.Rows
	conn *cachingConn
	stmt *cachedStmt
}

// Close implements driver.Rows.
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.stmt != nil {
		r.conn.release(r.stmt)
		r.stmt = nil
	}
	return err
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	return r.Rows.(driver.RowsColumnTypeScanType).ColumnTypeScanType(index)
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	return r.Rows.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(index)
}

// ColumnTypeLength implements driver.RowsColumnTypeLength.
func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	return r.Rows.(driver.RowsColumnTypeLength).ColumnTypeLength(index)
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	return r.Rows.(driver.RowsColumnTypeNullable).ColumnTypeNullable(index)
}

// ColumnTypePrecisionScale implements driver.RowsColumnTypePrecisionScale.
func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	return r.Rows.(driver.RowsColumnTypePrecisionScale).ColumnTypePrecisionScale(index)
}
