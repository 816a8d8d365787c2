package coord

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"
)

// CountCommands calls count for every command sent to the server (each
// command of a pipeline or a transaction, locks and publishes included),
// with the caller's context: the figures behind docs/scaling.md.
func (r *Redis) CountCommands(count func(ctx context.Context, n int)) {
	r.client.AddHook(commandCounter(count))
}

// commandCounter is a go-redis hook that only counts.
type commandCounter func(ctx context.Context, n int)

var _ redis.Hook = commandCounter(nil)

func (c commandCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c(ctx, 1)
		return next(ctx, cmd)
	}
}

func (c commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c(ctx, len(cmds))
		return next(ctx, cmds)
	}
}
