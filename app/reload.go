package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"artifactapi/app/auth"
	"artifactapi/app/config"
)

// Reload re-reads the remotes file. An invalid file is refused and logged;
// the running configuration stays.
func (a *App) Reload() error {
	cur := a.Config()
	f, err := config.LoadRemotesFile(cur.Env.RemotesPath)
	ev := auth.Event{Action: auth.ActReload, Target: cur.Env.RemotesPath}
	if err != nil {
		a.log.Error("reload refused; keeping the running configuration", "err", err)
		ev.Outcome, ev.Detail = auth.OutcomeFailed, "invalid remotes file; the running configuration stays"
		a.Audit.Record(context.Background(), auth.System(), "", ev)
		return err
	}
	next := *cur
	next.Remotes = f
	a.cfg.Store(&next)
	a.Metrics.InitRemotes(f.Names())
	a.syncPolicies(context.Background())
	ev.Count = int64(len(f.Remotes))
	a.Audit.Record(context.Background(), auth.System(), "", ev)
	a.log.Info("remotes reloaded", "file", cur.Env.RemotesPath, "remotes", len(f.Remotes))
	return nil
}

// WatchReload reloads on SIGHUP and when the remotes file changes (polled
// every 2 s by modification time and size). It returns a stop function.
func (a *App) WatchReload(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	path := a.Config().Env.RemotesPath
	stamp := func() (time.Time, int64) {
		st, err := os.Stat(path)
		if err != nil {
			return time.Time{}, -1
		}
		return st.ModTime(), st.Size()
	}
	lastT, lastS := stamp()
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = a.Reload()
				lastT, lastS = stamp()
			case <-t.C:
				if mt, sz := stamp(); sz >= 0 && (!mt.Equal(lastT) || sz != lastS) {
					lastT, lastS = mt, sz
					_ = a.Reload()
				}
			}
		}
	}()
	return cancel
}
