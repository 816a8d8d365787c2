package cache

import "context"

// Filling reports whether a download of the artifact is running, in this
// process or (as far as coordination can tell, by its fill lock) in another
// replica. Whoever read a download to its end and waits for the commit can
// stop waiting once Filling is false: the commit has happened or failed.
func (e *Engine) Filling(ctx context.Context, remote, p string) bool {
	key := mkey(remote, p)
	e.mu.Lock()
	_, local := e.inflight[key]
	e.mu.Unlock()
	if local {
		return true
	}
	held, err := e.o.Coord.Locked(ctx, "fill:"+key)
	return err == nil && held
}
