package auth

import (
	"sync"
	"time"
)

// verified remembers credentials checked against the database for a short
// TTL, so that a warm request needs no database round trip. Entries are
// dropped by user, token or session when those change (here at once, in
// other replicas through the invalidation topic); the TTL bounds how long
// a lost invalidation message can matter.
type verified struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	m       map[string]cached
	trusted bool // false while invalidations may be missed: nothing is cached
}

// cached is one verified credential.
type cached struct {
	p       *Principal
	user    string // the user it depends on ("" for none)
	tokenID string // the token it depends on
	session string // the session id hash it depends on
	until   time.Time
}

// maxVerified bounds the entries kept (a flood of distinct valid
// credentials cannot grow memory without limit).
const maxVerified = 100000

func newVerified(ttl time.Duration, now func() time.Time) *verified {
	return &verified{ttl: ttl, now: now, m: map[string]cached{}, trusted: true}
}

// get returns the principal cached under key.
func (v *verified) get(key string) (*Principal, bool) {
	v.mu.RLock()
	e, ok := v.m[key]
	v.mu.RUnlock()
	if !ok || !v.now().Before(e.until) {
		return nil, false
	}
	return e.p, true
}

// put caches e under key for the TTL (not when untrusted or the TTL is 0).
func (v *verified) put(key string, e cached) {
	if v.ttl <= 0 {
		return
	}
	e.until = v.now().Add(v.ttl)
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.trusted {
		return
	}
	if len(v.m) >= maxVerified {
		now := v.now()
		for k, old := range v.m {
			if !now.Before(old.until) || len(v.m) >= maxVerified {
				delete(v.m, k)
			}
		}
	}
	v.m[key] = e
}

// drop removes the entries depending on what msg names: "user:NAME",
// "token:ID" or "session:HASH".
func (v *verified) drop(msg string) {
	kind, val, ok := cutMsg(msg)
	if !ok {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, e := range v.m {
		if (kind == "user" && e.user == val) || (kind == "token" && e.tokenID == val) || (kind == "session" && e.session == val) {
			delete(v.m, k)
		}
	}
}

// setTrusted switches caching on or off; switching off forgets everything.
func (v *verified) setTrusted(ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.trusted = ok
	if !ok {
		clear(v.m)
	}
}

// cutMsg splits an invalidation message.
func cutMsg(msg string) (kind, val string, ok bool) {
	for i := 0; i < len(msg); i++ {
		if msg[i] == ':' {
			return msg[:i], msg[i+1:], i+1 < len(msg)
		}
	}
	return "", "", false
}
