package registry

import (
	"container/list"
	"sync"
)

// recentManifests remembers the bytes of manifests served lately, keyed by
// remote, repository and digest, so a by-digest request right after a tag
// request is filled without asking the upstream again. Bounded by entries
// and bytes; least recently used first out.
type recentManifests struct {
	mu       sync.Mutex
	ll       *list.List
	m        map[string]*list.Element
	bytes    int
	maxItems int
	maxBytes int
}

type recentManifest struct {
	key       string
	body      []byte
	mediaType string
}

func newRecentManifests(maxItems, maxBytes int) *recentManifests {
	return &recentManifests{ll: list.New(), m: map[string]*list.Element{}, maxItems: maxItems, maxBytes: maxBytes}
}

func recentKey(remote, name, digest string) string { return remote + "\x00" + name + "\x00" + digest }

func (r *recentManifests) get(key string) (recentManifest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.m[key]
	if !ok {
		return recentManifest{}, false
	}
	r.ll.MoveToFront(el)
	return *el.Value.(*recentManifest), true
}

// put stores a copy of body (the caller's slice may be reused).
func (r *recentManifests) put(key string, body []byte, mediaType string) {
	if len(body) > r.maxBytes {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.m[key]; ok {
		r.ll.MoveToFront(el)
		return
	}
	e := &recentManifest{key: key, body: append([]byte(nil), body...), mediaType: mediaType}
	r.m[key] = r.ll.PushFront(e)
	r.bytes += len(body)
	for r.ll.Len() > r.maxItems || r.bytes > r.maxBytes {
		old := r.ll.Remove(r.ll.Back()).(*recentManifest)
		delete(r.m, old.key)
		r.bytes -= len(old.body)
	}
}
