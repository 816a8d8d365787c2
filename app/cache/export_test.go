package cache

import "time"

// MemoStamp returns when the memo entry of remote/p was stored (tests).
func (e *Engine) MemoStamp(remote, p string) (time.Time, bool) {
	e.memo.mu.Lock()
	defer e.memo.mu.Unlock()
	en, ok := e.memo.m[mkey(remote, p)]
	return en.at, ok
}
