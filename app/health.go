package app

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"artifactapi/app/api"
)

// healthTimeout bounds each component's check: a hung backend is reported
// as such instead of hanging /health and /ready.
const healthTimeout = 2 * time.Second

// noSpaceWindow is how long a download that ran out of disk space keeps
// the disk reported as full.
const noSpaceWindow = 30 * time.Second

// check is one component's health check.
type check struct {
	name, backend string
	run           func(ctx context.Context) error
}

// Health checks every component at once, each within healthTimeout:
// metadata, blobs, coordination and the disk of DATA_DIR (spool).
func (a *App) Health(ctx context.Context) map[string]api.Component {
	dir := a.Config().Env.DataDir
	checks := []check{
		{"metadata", a.Meta.Describe(), a.Meta.Ping},
		{"blobs", a.Blobs.Describe(), a.Blobs.Ping},
		{"coordination", a.Coord.Describe(), a.Coord.Ping},
		{"disk", "filesystem " + dir, a.checkDisk},
	}
	type result struct {
		i   int
		err error
	}
	done := make(chan result, len(checks)) // a late check never blocks
	deadline := time.NewTimer(healthTimeout)
	defer deadline.Stop()
	for i, c := range checks {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, healthTimeout)
			defer cancel()
			done <- result{i, c.run(cctx)}
		}()
	}
	out := make(map[string]api.Component, len(checks))
	for range checks {
		select {
		case r := <-done:
			out[checks[r.i].name] = component(checks[r.i], r.err)
		case <-deadline.C:
			for _, c := range checks {
				if _, ok := out[c.name]; !ok {
					out[c.name] = api.Component{Backend: c.backend, Error: fmt.Sprintf("no answer within %s", healthTimeout)}
				}
			}
			return out
		}
	}
	return out
}

// component is a check's result as /health shows it. Errors of the
// backends are not shown (they may name hosts and users); the disk's are.
func component(c check, err error) api.Component {
	comp := api.Component{Backend: c.backend, OK: err == nil}
	switch {
	case err == nil:
	case c.name == "disk":
		comp.Error = err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		comp.Error = fmt.Sprintf("no answer within %s", healthTimeout)
	default:
		comp.Error = "unreachable"
	}
	return comp
}

// checkDisk fails while DATA_DIR has less free space than DISK_MIN_FREE, or
// within noSpaceWindow of a download that ran out of space.
func (a *App) checkDisk(ctx context.Context) error {
	env := a.Config().Env
	if at := a.Engine.NoSpaceAt(); !at.IsZero() && time.Since(at) < noSpaceWindow {
		return fmt.Errorf("storage full: a download ran out of space %s ago", time.Since(at).Round(time.Second))
	}
	if env.DiskMinFree <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(env.DataDir, &st); err != nil {
		return fmt.Errorf("disk: statfs %s: %w", env.DataDir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < env.DiskMinFree {
		return fmt.Errorf("storage full: %d bytes free, below DISK_MIN_FREE (%d)", free, env.DiskMinFree)
	}
	return nil
}
