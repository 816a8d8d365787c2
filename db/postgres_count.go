package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresOption adjusts the connection pool of OpenPostgres.
type PostgresOption func(*pgxpool.Config)

// CountQueries calls count for every statement sent to the server (a query,
// an exec, each statement of a batch, a COPY, BEGIN and COMMIT included),
// with the caller's context: the figures behind docs/scaling.md.
func CountQueries(count func(ctx context.Context, n int)) PostgresOption {
	return func(c *pgxpool.Config) { c.ConnConfig.Tracer = queryCounter(count) }
}

// queryCounter is a pgx tracer that only counts.
type queryCounter func(ctx context.Context, n int)

var (
	_ pgx.QueryTracer    = queryCounter(nil)
	_ pgx.BatchTracer    = queryCounter(nil)
	_ pgx.CopyFromTracer = queryCounter(nil)
)

func (q queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q(ctx, 1)
	return ctx
}

func (q queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (q queryCounter) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchQueryData) {
	q(ctx, 1)
}

func (q queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (q queryCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	q(ctx, 1)
	return ctx
}

func (q queryCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}
