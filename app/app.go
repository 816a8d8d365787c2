// Package app is the composition root: it builds the stores, the engine and
// the Fiber app from a Config, and runs the server until stopped.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
	"artifactapi/app/blob"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/app/jobs"
	"artifactapi/app/localrepo"
	"artifactapi/app/metrics"
	"artifactapi/app/policies"
	"artifactapi/app/stats"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// Version is set at build time (-ldflags "-X artifactapi/app.Version=…").
var Version = "dev"

// App is a running artifactapi instance.
type App struct {
	cfg      atomic.Pointer[config.Config]
	log      *slog.Logger
	Meta     db.Store
	Blobs    blob.Store
	Coord    coord.Coordinator
	Engine   *cache.Engine
	Jobs     *jobs.Manager
	Upstream *upstream.Client
	Metrics  *metrics.Metrics
	Fiber    *fiber.App
	Local    *localrepo.Store // local docker repositories (pushed images)
	// Stats keeps each remote's upstream health and traffic, shared by the
	// replicas through the metadata store.
	Stats    *stats.Recorder
	Policies *policies.Manager // cleanup policies; nil when the store has none
	// stopPolicies ends the policy scheduler.
	stopPolicies func()
	admin        *api.Admin
	// stopLocal ends the expiry of abandoned registry uploads.
	stopLocal context.CancelFunc
	guesses   *api.Throttle // wrong admin tokens and sign-ins per client address
	// Auth verifies credentials and manages users, tokens and sessions;
	// Audit records every mutation.
	Auth       *auth.Authenticator
	Audit      *auth.Auditor
	access     db.AuthStore
	statsStore db.StatsStore      // the metadata store's health and traffic tables
	stopAccess context.CancelFunc // ends the invalidation listener and the audit sweeps
}

// remote returns the current config of a remote, or nil.
func (a *App) remote(name string) *config.Remote { return a.Config().Remotes.Remotes[name] }

// Config returns the current configuration.
func (a *App) Config() *config.Config { return a.cfg.Load() }

// New builds every backend named by cfg.Env and the HTTP app.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{log: log, Metrics: metrics.New()}
	if cfg.Env.AdminToken == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		cfg.Env.AdminToken = hex.EncodeToString(b)
		cfg.Env.AdminTokenGenerated = true
		// Logged once on purpose: the embedded default is never open.
		log.Warn("ADMIN_TOKEN not set; generated one for this run", "admin_token", cfg.Env.AdminToken)
	}
	a.cfg.Store(cfg)
	a.guesses = api.NewThrottle(cfg.Env.AuthFailures, nil)
	if err := a.openBackends(ctx, cfg.Env); err != nil {
		a.closeBackends()
		return nil, err
	}
	if err := a.startAccess(ctx, cfg.Env); err != nil {
		a.closeBackends()
		return nil, err
	}
	a.Stats = stats.New(stats.Options{Store: a.statsStore, Metrics: a.Metrics,
		Config: a.Config, Log: log, Flush: cfg.Env.StatsFlush})
	a.Upstream = upstream.NewWithOptions(upstream.Options{
		Timeouts:  upstream.Timeouts{Connect: cfg.Env.ConnectTimeout, Header: cfg.Env.HeaderTimeout, Idle: cfg.Env.IdleTimeout},
		UserAgent: "artifactapi/" + Version, Observe: a.Stats.Observe,
	})
	var quota *cache.Quota
	eng, err := cache.New(ctx, cache.Options{
		Meta: a.Meta, Blobs: a.Blobs, Coord: a.Coord, Metrics: a.Metrics, Log: log,
		SpoolDir: filepath.Join(cfg.Env.DataDir, "spool"),
		PeerURL:  cfg.Env.AdvertiseURL, PeerSecret: cfg.Env.AdminToken, Peers: a.Upstream, MaxFills: cfg.Env.MaxFills,
		OnCommit: func(ctx context.Context, art db.Artifact) {
			if _, err := quota.Enforce(ctx, art.Remote); err != nil {
				log.Warn("quota enforcement failed", "remote", art.Remote, "err", err)
			}
		},
	})
	if err != nil {
		a.stopAccess()
		a.closeBackends()
		return nil, err
	}
	a.Engine = eng
	quota = cache.NewQuota(eng, a.remote)
	a.Jobs, err = jobs.New(jobs.Options{Store: a.Meta, Engine: eng, Upstream: a.Upstream, Coord: a.Coord, Config: a.Config, Log: log, Metrics: a.Metrics})
	if err != nil {
		_ = eng.Close(ctx)
		a.stopAccess()
		a.closeBackends()
		return nil, err
	}
	a.openLocalRepos(ctx)
	a.Metrics.InitRemotes(cfg.Remotes.Names())
	a.Metrics.Registry.MustRegister(&opsCollector{a: a})
	a.startPolicies(ctx)
	a.Fiber = a.routes()
	a.Jobs.Start(ctx)
	a.Stats.Start(ctx)
	return a, nil
}

func (a *App) openBackends(ctx context.Context, e config.Env) error {
	var err error
	if e.DatabaseURL != "" {
		pg, err := db.OpenPostgres(ctx, e.DatabaseURL, db.CountQueries(a.Metrics.MetadataQueries.Add))
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		a.Meta, a.statsStore = pg, pg.Stats()
		a.log.Info("metadata: " + a.Meta.Describe())
	} else {
		lite, err := db.OpenSQLite(ctx, filepath.Join(e.DataDir, "artifactapi.db"))
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		a.Meta, a.statsStore = lite, lite.Stats()
		a.log.Info("metadata: " + a.Meta.Describe() + " (set DBHOST or DATABASE_URL for PostgreSQL)")
	}
	if a.Blobs, err = openBlobs(ctx, e, a.Metrics.BlobRequests.Add); err != nil {
		return err
	}
	if e.MinIOEndpoint != "" {
		if s3, ok := a.Blobs.(*blob.S3); ok && e.HotCacheSize > 0 {
			if a.Blobs, err = a.hotTier(s3, e); err != nil {
				return err
			}
		}
		a.log.Info("blobs: " + a.Blobs.Describe())
	} else {
		a.log.Info("blobs: " + a.Blobs.Describe() + " (set MINIO_ENDPOINT for S3)")
	}
	if e.RedisURL != "" {
		routeRedisLogs(a.log)
		r, err := coord.NewRedis(ctx, e.RedisURL, e.RedisPrefix)
		if err != nil {
			return fmt.Errorf("coordination: %w", err)
		}
		r.CountCommands(a.Metrics.CoordCommands.Add)
		a.Coord = r
		a.log.Info("coordination: " + a.Coord.Describe())
	} else {
		a.Coord = coord.NewLocal()
		a.log.Info("coordination: in-process (set REDIS_URL to share locks across replicas)")
	}
	return nil
}

// hotTier puts a hot tier (local disk copies of recently served objects)
// in front of the S3 store.
func (a *App) hotTier(s3 *blob.S3, e config.Env) (*blob.Hot, error) {
	hot, err := blob.NewHot(s3, blob.HotConfig{Dir: e.HotCacheDir, Size: e.HotCacheSize, Log: a.log})
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	a.Metrics.RegisterHotTier(func() metrics.HotTierStats {
		s := hot.Stats()
		return metrics.HotTierStats{Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions, Bytes: s.Bytes}
	})
	return hot, nil
}

func (a *App) closeBackends() {
	if h, ok := a.Blobs.(*blob.Hot); ok {
		h.Close() // copies still being taken into the tier
	}
	if a.Coord != nil {
		a.Coord.Close()
	}
	if a.Meta != nil {
		a.Meta.Close()
	}
}

// Serve listens on addr until ctx ends, then shuts down gracefully.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- a.Fiber.Listener(newStallListener(tlsRefusingListener{ln}, a.Config().Env.ClientIdle)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return a.Shutdown()
}

// Shutdown stops accepting, lets running downloads finish within
// SHUTDOWN_TIMEOUT, then closes the backends.
func (a *App) Shutdown() error {
	timeout := a.Config().Env.ShutdownTimeout
	a.log.Info("shutting down", "timeout", timeout.String(), "downloads_in_flight", a.Engine.InFlight())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		// Stops the listener; in-flight responses keep streaming.
		_ = a.Fiber.ShutdownWithTimeout(timeout)
		close(done)
	}()
	// Running job items go back to the queue; the engine finishes their downloads.
	if a.stopLocal != nil {
		a.stopLocal()
	}
	if a.stopPolicies != nil {
		a.stopPolicies()
	}
	err := errors.Join(a.Jobs.Stop(ctx), a.Engine.Close(ctx))
	select {
	case <-done:
	case <-ctx.Done():
	}
	a.Stats.Close() // after the downloads: their counts are written
	a.stopAccess()
	a.closeBackends()
	return err
}

// Listen opens the configured address.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}
