package cache

import (
	"context"
	"net/http"
	"time"

	"artifactapi/db"
)

// Committed waits until the artifact this result streams is committed and
// returns its entry. A cache hit is committed already. A download led by this
// process reports its own commit; a download relayed from another replica is
// committed there, and the wait lasts until that replica's fill lock is
// released (or the commit appears). The body need not have been read.
func (r *Result) Committed(ctx context.Context) (db.Artifact, error) {
	f := r.fill
	if f == nil {
		return r.Artifact, nil
	}
	if err := f.waitDone(ctx); err != nil {
		return db.Artifact{}, err
	}
	f.mu.Lock()
	failed, committed, commitErr, relayed, art := f.failed, f.committed, f.commitErr, f.relayed, f.art
	f.mu.Unlock()
	switch {
	case failed != nil:
		return db.Artifact{}, failed
	case commitErr != nil:
		return db.Artifact{}, &Error{Status: http.StatusServiceUnavailable, Msg: "the download could not be committed", Err: commitErr}
	case committed != nil:
		return *committed, nil
	case !relayed:
		// Resolved from the cache by this fill (committed elsewhere meanwhile).
		return r.engine.o.Meta.GetArtifact(ctx, r.Artifact.Remote, r.Artifact.Path)
	}
	return r.engine.awaitPeerCommit(ctx, f, art.SHA256)
}

// awaitPeerCommit waits for the replica whose download f relayed to commit
// the body whose digest is sum.
func (e *Engine) awaitPeerCommit(ctx context.Context, f *fill, sum string) (db.Artifact, error) {
	sub, err := e.o.Coord.Subscribe(ctx, "filled:"+f.key)
	if err == nil {
		defer sub.Close()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	released := false // the fill lock was free at the previous check
	for {
		a, err := e.o.Meta.GetArtifact(ctx, f.req.Remote.Name, f.req.Path)
		if err == nil && a.SHA256 == sum {
			return a, nil
		}
		if released {
			return db.Artifact{}, &Error{Status: http.StatusBadGateway, Msg: "the replica that downloaded the artifact did not commit it"}
		}
		var msgs <-chan string
		if sub != nil {
			msgs = sub.C()
		}
		select {
		case <-ctx.Done():
			return db.Artifact{}, ctx.Err()
		case <-msgs:
		case <-tick.C:
			held, err := e.o.Coord.Locked(ctx, "fill:"+f.key)
			released = err == nil && !held
		}
	}
}
