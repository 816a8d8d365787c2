package coord

import (
	"context"
	"errors"
	"fmt"
	"github.com/bsm/redislock"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layout under the prefix. Locks and values live in separate namespaces so
// a lock and a value with the same name never collide (as in Local).
const (
	redisLockNS    = "lock:"
	redisValueNS   = "kv:"
	redisChannelNS = "ch:"
)

// Redis is a Coordinator backed by a Redis server shared by all replicas.
// Every key and channel name starts with the configured prefix.
type Redis struct {
	client  *redis.Client
	prefix  string
	desc    string
	secrets []string // strings scrubbed from every error message

	mu     sync.Mutex
	closed bool
	subs   map[*redisSub]struct{}
}

var _ Coordinator = (*Redis)(nil)

// NewRedis connects to the Redis server at rawURL (redis://[:password@]host:port/db,
// rediss:// for TLS) and checks it with PING under ctx; on failure nothing is
// left open. Every key and channel is prefixed with prefix. Errors never
// contain the URL's password.
func NewRedis(ctx context.Context, rawURL, prefix string) (*Redis, error) {
	r, err := newRedis(rawURL, prefix)
	if err != nil {
		return nil, err
	}
	if err := r.client.Ping(ctx).Err(); err != nil {
		_ = r.client.Close()
		return nil, r.wrapMsg("coord: connect to "+r.desc, err)
	}
	return r, nil
}

// newRedis builds the client without contacting the server.
func newRedis(rawURL, prefix string) (*Redis, error) {
	secrets := urlSecrets(rawURL)
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL: never wrap them.
		return nil, fmt.Errorf("coord: invalid redis URL: %s", scrub(parseErrorText(err), secrets))
	}
	if opt.Password != "" {
		secrets = append(secrets, opt.Password)
	}
	desc := fmt.Sprintf("redis %s/%d", opt.Addr, opt.DB)
	if opt.Network == "unix" {
		desc = fmt.Sprintf("redis unix:%s/%d", opt.Addr, opt.DB)
	}
	return &Redis{
		client:  redis.NewClient(opt),
		prefix:  prefix,
		desc:    desc,
		secrets: secrets,
		subs:    map[*redisSub]struct{}{},
	}, nil
}

// parseErrorText keeps only the reason of a *url.Error, dropping the URL.
func parseErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// urlSecrets extracts the userinfo and password of a URL by plain string
// handling, so it works even for URLs that do not parse.
func urlSecrets(raw string) []string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return nil
	}
	rest := raw[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return nil
	}
	userinfo := rest[:at]
	var out []string
	if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" {
		out = append(out, pw)
		if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
			out = append(out, dec)
		}
	}
	if userinfo != "" {
		out = append(out, userinfo)
	}
	return out
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// redisError carries a scrubbed message and still unwraps to the cause so
// errors.Is works (context errors, ErrClosed).
type redisError struct {
	msg string
	err error
}

func (e *redisError) Error() string { return e.msg }
func (e *redisError) Unwrap() error { return e.err }

// wrap names the operation and scrubs secrets; sentinel errors pass as is.
func (r *Redis) wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotObtained) || errors.Is(err, ErrLockLost) || errors.Is(err, ErrClosed) {
		return err
	}
	if errors.Is(err, redis.ErrClosed) {
		return ErrClosed // used after Close, as with Local
	}
	return r.wrapMsg("coord: redis "+op, err)
}

// wrapMsg prefixes err with context and scrubs secrets from the result.
func (r *Redis) wrapMsg(what string, err error) error {
	return &redisError{msg: scrub(what+": "+err.Error(), r.secrets), err: err}
}

// redisTTL converts ttl for commands that count milliseconds (at least 1ms).
func redisTTL(ttl time.Duration) time.Duration {
	if ttl > 0 && ttl < time.Millisecond {
		return time.Millisecond
	}
	return ttl
}

// TryLock takes the named lock for ttl without retrying. ErrNotObtained if held.
func (r *Redis) TryLock(ctx context.Context, key string, ttl time.Duration) (Lock, error) {
	ttl, err := lockTTL(ttl)
	if err != nil {
		return nil, err
	}
	// github.com/bsm/redislock: SET NX PX with a random token; refresh and
	// release compare the token atomically. No retry: callers wait themselves.
	l, err := redislock.Obtain(ctx, r.client, r.prefix+redisLockNS+key, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, ErrNotObtained
	}
	if err != nil {
		return nil, r.wrap("lock", err)
	}
	return &redisLock{r: r, l: l}, nil
}

// Locked reports whether the lock key exists.
func (r *Redis) Locked(ctx context.Context, key string) (bool, error) {
	n, err := r.client.Exists(ctx, r.prefix+redisLockNS+key).Result()
	if err != nil {
		return false, r.wrap("exists", err)
	}
	return n > 0, nil
}

type redisLock struct {
	r *Redis
	l *redislock.Lock
}

// Refresh extends the lock to ttl from now, or returns ErrLockLost if the key
// expired or holds another holder's token.
func (l *redisLock) Refresh(ctx context.Context, ttl time.Duration) error {
	ttl, err := lockTTL(ttl)
	if err != nil {
		return err
	}
	err = l.l.Refresh(ctx, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return ErrLockLost
	}
	if err != nil {
		return l.r.wrap("refresh", err)
	}
	return nil
}

// Release deletes the lock key only if it still holds this holder's token;
// a lock no longer held is not an error.
func (l *redisLock) Release(ctx context.Context) error {
	err := l.l.Release(ctx)
	if err == nil || errors.Is(err, redislock.ErrLockNotHeld) {
		return nil
	}
	return l.r.wrap("release", err)
}

type redisSub struct {
	r      *Redis
	ps     *redis.PubSub
	out    chan string
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
	err    error
}

// Subscribe subscribes on the server and waits for the confirmation, so a
// message published after it returns is delivered.
func (r *Redis) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	ps := r.client.Subscribe(ctx, r.prefix+redisChannelNS+topic)
	reply, err := ps.Receive(ctx)
	if err == nil {
		if _, ok := reply.(*redis.Subscription); !ok {
			err = fmt.Errorf("unexpected reply %T", reply)
		}
	}
	if err != nil {
		_ = ps.Close()
		return nil, r.wrap("subscribe", err)
	}
	s := &redisSub{
		r:      r,
		ps:     ps,
		out:    make(chan string, SubscriptionBuffer),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	in := ps.Channel(redis.WithChannelSize(SubscriptionBuffer))
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ps.Close()
		return nil, ErrClosed
	}
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	go s.forward(in)
	return s, nil
}

// forward copies payloads to out until Close or the PubSub ends, then closes out.
func (s *redisSub) forward(in <-chan *redis.Message) {
	defer close(s.exited)
	defer close(s.out)
	for {
		select {
		case m, ok := <-in:
			if !ok {
				return
			}
			select {
			case s.out <- m.Payload:
			case <-s.done:
				return
			}
		case <-s.done:
			return
		}
	}
}

// C delivers message payloads; it is closed when Close returns.
func (s *redisSub) C() <-chan string { return s.out }

// Close unsubscribes and closes C. It is safe to call more than once.
func (s *redisSub) Close() error {
	s.once.Do(func() {
		close(s.done)
		if err := s.ps.Close(); err != nil {
			s.err = s.r.wrap("unsubscribe", err)
		}
		s.r.mu.Lock()
		delete(s.r.subs, s)
		s.r.mu.Unlock()
	})
	<-s.exited
	return s.err
}

// Publish sends msg to every subscriber of topic on any replica.
func (r *Redis) Publish(ctx context.Context, topic, msg string) error {
	return r.wrap("publish", r.client.Publish(ctx, r.prefix+redisChannelNS+topic, msg).Err())
}

// Set stores value under key for ttl (ttl <= 0: no expiry).
func (r *Redis) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl < 0 {
		ttl = 0 // negative durations mean KEEPTTL to go-redis
	}
	return r.wrap("set", r.client.Set(ctx, r.prefix+redisValueNS+key, value, redisTTL(ttl)).Err())
}

// Get returns the value and true, or "" and false when missing or expired.
func (r *Redis) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.client.Get(ctx, r.prefix+redisValueNS+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, r.wrap("get", err)
	}
	return v, true, nil
}

// Del removes key; a missing key is not an error.
func (r *Redis) Del(ctx context.Context, key string) error {
	return r.wrap("del", r.client.Del(ctx, r.prefix+redisValueNS+key).Err())
}

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error {
	return r.wrap("ping", r.client.Ping(ctx).Err())
}

// Describe returns "redis host:port/db"; it never includes credentials.
func (r *Redis) Describe() string { return r.desc }

// Close closes every subscription, then the client. It is safe to call more
// than once.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	subs := make([]*redisSub, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return r.wrapMsg("coord: redis close", err)
	}
	return nil
}
