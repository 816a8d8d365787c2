package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EnvVar documents one environment variable (used by --help and the README).
type EnvVar struct {
	Name, Default, Help string
	Secret              bool
}

// EnvVars lists every environment variable the binary reads.
var EnvVars = []EnvVar{
	{Name: "PORT", Default: "8000", Help: "port to listen on (ignored when LISTEN_ADDR is set)"},
	{Name: "LISTEN_ADDR", Default: ":8000", Help: "address to listen on"},
	{Name: "ADVERTISE_URL", Help: "this replica's base URL as other replicas reach it (e.g. http://10.0.0.5:8000; an IPv6 address in brackets: http://[fd00::5]:8000); lets replicas stream each other's running downloads"},
	{Name: "POD_IP", Help: "this replica's IP address (Kubernetes status.podIP); when ADVERTISE_URL is unset, it is http://<POD_IP>:<listen port>, an IPv6 address bracketed, so one manifest serves IPv4, IPv6 and dual-stack clusters"},
	{Name: "REMOTES_CONFIG", Default: "remotes.yaml", Help: "path of the remotes file"},
	{Name: "DATA_DIR", Default: "./data", Help: "embedded SQLite, filesystem blobs and download spool"},
	{Name: "DBHOST", Help: "PostgreSQL host (enables PostgreSQL)"},
	{Name: "DBPORT", Default: "5432", Help: "PostgreSQL port"},
	{Name: "DBUSER", Help: "PostgreSQL user"},
	{Name: "DBPASS", Help: "PostgreSQL password", Secret: true},
	{Name: "DBNAME", Help: "PostgreSQL database"},
	{Name: "DBSSLMODE", Default: "prefer", Help: "PostgreSQL sslmode (disable, prefer, require, verify-full)"},
	{Name: "DATABASE_URL", Help: "PostgreSQL URL, instead of DBHOST…DBNAME", Secret: true},
	{Name: "REDIS_URL", Help: "Redis URL (enables cross-replica coordination), e.g. redis://localhost:6379", Secret: true},
	{Name: "REDIS_PREFIX", Default: "artifactapi:", Help: "prefix of every Redis key and channel"},
	{Name: "MINIO_ENDPOINT", Help: "S3/MinIO endpoint host:port (enables S3 blobs)"},
	{Name: "MINIO_ACCESS_KEY", Help: "S3 access key"},
	{Name: "MINIO_SECRET_KEY", Help: "S3 secret key (MinIO's default, minioadmin, stops start-up)", Secret: true},
	{Name: "MINIO_BUCKET", Default: "artifacts", Help: "S3 bucket (created when missing)"},
	{Name: "MINIO_SECURE", Default: "false", Help: "use HTTPS for S3"},
	{Name: "MINIO_REGION", Help: "S3 region"},
	{Name: "HOT_CACHE_DIR", Default: "$DATA_DIR/hot", Help: "with S3 blobs: this replica's local disk copies of recently served artifacts (served with sendfile; never an artifact the metadata no longer names); kept across restarts"},
	{Name: "HOT_CACHE_SIZE", Default: "4GiB", Help: "with S3 blobs: most bytes HOT_CACHE_DIR holds, least recently used evicted first (0: no hot tier)"},
	{Name: "ADMIN_TOKEN", Help: "admin credential (Bearer, or Basic with any user); when unset on the embedded default, a random one is generated for the run and printed once in the startup log. In production mode (PostgreSQL, Redis or S3 configured) it is required, the same on every replica: unset, a placeholder or shorter than 32 characters stops start-up", Secret: true},
	{Name: "METRICS_TOKEN", Help: "when set, GET /metrics requires `Authorization: Bearer <token>` (at least 16 characters); unset, /metrics is public", Secret: true},
	{Name: "GC_HEAP_FLOOR", Default: "64MiB", Help: "the Go heap may grow to this size before a collection, however little of it is live (0: GOGC's pacing alone): a warm hit allocates a few hundred bytes, and on a small live heap GOGC alone collects dozens of times a second under load, which shows in tail latency. Reserved, not touched: it does not add to RSS"},
	{Name: "LOG_FORMAT", Default: "text", Help: "text or json"},
	{Name: "LOG_LEVEL", Default: "info", Help: "debug, info, warn or error"},
	{Name: "UPSTREAM_CONNECT_TIMEOUT", Default: "10s", Help: "upstream TCP+TLS connect timeout"},
	{Name: "UPSTREAM_HEADER_TIMEOUT", Default: "30s", Help: "upstream time to response headers"},
	{Name: "UPSTREAM_IDLE_TIMEOUT", Default: "60s", Help: "upstream body stall timeout (no byte for this long aborts)"},
	{Name: "CLIENT_IDLE_TIMEOUT", Default: "120s", Help: "client connection closed after this long without progress (never a whole-transfer cap)"},
	{Name: "CLIENT_HEADER_TIMEOUT", Default: "10s", Help: "a client must send a request's headers within this long of connecting or of its first byte (0: off); bodies are not counted"},
	{Name: "SHUTDOWN_TIMEOUT", Default: "60s", Help: "how long SIGTERM waits for running downloads"},
	{Name: "AUTH_FAILURES_PER_MINUTE", Default: "20", Help: "wrong admin tokens and dashboard sign-ins accepted per client address and minute, then 429 (0: no limit)"},
	{Name: "MAX_UPLOAD_SIZE", Help: "largest accepted upload to a local repository (e.g. 5GiB); unlimited when unset"},
	{Name: "DISK_MIN_FREE", Default: "64MiB", Help: "/ready fails while DATA_DIR has less free space than this (0: off); it also fails for 30s after a download ran out of space"},
	{Name: "JOB_CONCURRENCY", Default: "4", Help: "batch cache job downloads running at once per remote"},
	{Name: "MAX_CONCURRENT_FILLS", Default: "256", Help: "upstream downloads running at once in this replica; beyond it a miss gets 503 with Retry-After (0: no limit)"},
	{Name: "AUDIT_RETENTION", Default: "2160h", Help: "audit log entries are deleted this long after they were recorded (0: kept forever)"},
	{Name: "AUTH_CACHE_TTL", Default: "5s", Help: "how long a replica trusts a verified token, password or session without asking the database (revocations also reach every replica at once through Redis)"},
	{Name: "JOB_RETENTION", Default: "720h", Help: "finished batch jobs are deleted this long after they ended (0: kept forever)"},
	{Name: "STATS_FLUSH_INTERVAL", Default: "5s", Help: "how often a replica adds its upstream health and traffic counts to the metadata store and reads the other replicas' (the dashboard, /remotes and the upstream state metrics show the sum)"},
	{Name: "POLICY_POLL", Default: "30s", Help: "longest wait between looks for due cleanup policies (the scheduler also wakes when one is due or saved)"},
	{Name: "REGISTRY_GC_GRACE", Default: "1h", Help: "garbage collection of local docker repositories keeps an unreferenced blob this long after a push last touched it: longer than any push takes"},
}

// Env is the runtime configuration read from the environment.
type Env struct {
	ListenAddr   string
	AdvertiseURL string
	RemotesPath  string
	DataDir      string

	DatabaseURL string // PostgreSQL DSN; "" = embedded SQLite
	DBHost      string
	DBName      string

	RedisURL    string // "" = in-process coordination
	RedisPrefix string

	MinIOEndpoint  string // "" = filesystem blobs
	MinIOAccessKey string
	MinIOSecretKey string
	MinIOBucket    string
	MinIOSecure    bool
	MinIORegion    string

	HotCacheDir  string // HOT_CACHE_DIR
	HotCacheSize int64  // HOT_CACHE_SIZE; 0: no hot tier

	GCHeapFloor int64 // GC_HEAP_FLOOR; 0: GOGC's pacing alone

	AdminToken          string
	AdminTokenGenerated bool
	MetricsToken        string // METRICS_TOKEN: Bearer token /metrics requires; "" = public

	LogFormat string
	LogLevel  string

	ConnectTimeout  time.Duration
	HeaderTimeout   time.Duration
	IdleTimeout     time.Duration
	ClientIdle      time.Duration
	ClientHeader    time.Duration // absolute deadline for a request's headers
	AuthFailures    int           // wrong credentials per client address and minute (0: no limit)
	ShutdownTimeout time.Duration
	MaxUploadSize   int64
	DiskMinFree     int64 // free bytes DATA_DIR needs for /ready (0: no check)
	JobConcurrency  int
	MaxFills        int // MAX_CONCURRENT_FILLS; 0: no limit
	JobRetention    time.Duration
	PolicyPoll      time.Duration // POLICY_POLL
	AuditRetention  time.Duration // 0: audit entries are kept forever
	AuthCacheTTL    time.Duration // how long a verified credential is trusted without the database
	RegistryGCGrace time.Duration // REGISTRY_GC_GRACE
	StatsFlush      time.Duration // STATS_FLUSH_INTERVAL
}

// LoadEnv reads the environment through getenv (os.Getenv in production).
func LoadEnv(getenv func(string) string) (Env, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var e Env
	var probs []string
	// sizeOrOff reads a size like 64MiB where "0" turns the feature off.
	sizeOrOff := func(k, def string) int64 {
		v := get(k, def)
		if v == "0" {
			return 0
		}
		n, err := ParseSize(v)
		if err != nil || n < 0 {
			probs = append(probs, fmt.Sprintf("%s: %q is not a size like %s (0: off)", k, v, def))
		}
		return n
	}
	e.ListenAddr = get("LISTEN_ADDR", "")
	if e.ListenAddr == "" {
		e.ListenAddr = ":" + get("PORT", "8000")
	}
	e.AdvertiseURL = get("ADVERTISE_URL", "")
	if ip := get("POD_IP", ""); e.AdvertiseURL == "" && ip != "" {
		_, port, err := net.SplitHostPort(e.ListenAddr)
		if err != nil || port == "" {
			port = "8000"
		}
		e.AdvertiseURL = "http://" + net.JoinHostPort(ip, port)
	}
	if e.AdvertiseURL != "" {
		if p := advertiseProblem(e.AdvertiseURL); p != "" {
			probs = append(probs, p)
		}
	}
	e.RemotesPath = get("REMOTES_CONFIG", "remotes.yaml")
	e.DataDir = get("DATA_DIR", "./data")

	e.DatabaseURL = get("DATABASE_URL", "")
	if h := get("DBHOST", ""); h != "" && e.DatabaseURL == "" {
		u := url.URL{Scheme: "postgres", Host: h + ":" + get("DBPORT", "5432"), Path: "/" + get("DBNAME", "postgres")}
		if user := get("DBUSER", ""); user != "" {
			if pw := getenv("DBPASS"); pw != "" {
				u.User = url.UserPassword(user, pw)
			} else {
				u.User = url.User(user)
			}
		}
		q := url.Values{}
		q.Set("sslmode", get("DBSSLMODE", "prefer"))
		u.RawQuery = q.Encode()
		e.DatabaseURL = u.String()
	}
	e.RedisURL = get("REDIS_URL", "")
	e.RedisPrefix = get("REDIS_PREFIX", "artifactapi:")
	e.MinIOEndpoint = get("MINIO_ENDPOINT", "")
	e.MinIOAccessKey = get("MINIO_ACCESS_KEY", "")
	e.MinIOSecretKey = getenv("MINIO_SECRET_KEY")
	e.MinIOBucket = get("MINIO_BUCKET", "artifacts")
	e.MinIORegion = get("MINIO_REGION", "")
	secure := get("MINIO_SECURE", "false")
	b, err := strconv.ParseBool(secure)
	if err != nil {
		probs = append(probs, fmt.Sprintf("MINIO_SECURE: %q is not true/false", secure))
	}
	e.MinIOSecure = b
	e.HotCacheDir = get("HOT_CACHE_DIR", filepath.Join(e.DataDir, "hot"))
	e.HotCacheSize = sizeOrOff("HOT_CACHE_SIZE", "4GiB")
	e.GCHeapFloor = sizeOrOff("GC_HEAP_FLOOR", "64MiB")
	e.AdminToken = getenv("ADMIN_TOKEN")
	e.MetricsToken = getenv("METRICS_TOKEN")
	e.LogFormat = get("LOG_FORMAT", "text")
	if e.LogFormat != "text" && e.LogFormat != "json" {
		probs = append(probs, fmt.Sprintf("LOG_FORMAT: %q is not text or json", e.LogFormat))
	}
	e.LogLevel = get("LOG_LEVEL", "info")
	dur := func(k, def string) time.Duration {
		v := get(k, def)
		d, err := time.ParseDuration(v)
		if err != nil {
			if n, err2 := strconv.Atoi(v); err2 == nil {
				return time.Duration(n) * time.Second
			}
			probs = append(probs, fmt.Sprintf("%s: %q is not a duration like 30s", k, v))
		}
		if d < 0 {
			probs = append(probs, fmt.Sprintf("%s: must not be negative", k))
		}
		return d
	}
	e.ConnectTimeout = dur("UPSTREAM_CONNECT_TIMEOUT", "10s")
	e.HeaderTimeout = dur("UPSTREAM_HEADER_TIMEOUT", "30s")
	e.IdleTimeout = dur("UPSTREAM_IDLE_TIMEOUT", "60s")
	e.JobRetention = dur("JOB_RETENTION", "720h")
	e.PolicyPoll = dur("POLICY_POLL", "30s")
	e.AuditRetention = dur("AUDIT_RETENTION", "2160h")
	e.AuthCacheTTL = dur("AUTH_CACHE_TTL", "5s")
	if e.RegistryGCGrace = dur("REGISTRY_GC_GRACE", "1h"); e.RegistryGCGrace == 0 {
		probs = append(probs, "REGISTRY_GC_GRACE: must be positive (a push in progress relies on it)")
	}
	if e.StatsFlush = dur("STATS_FLUSH_INTERVAL", "5s"); e.StatsFlush == 0 {
		probs = append(probs, "STATS_FLUSH_INTERVAL: must be positive")
	}
	e.ClientIdle = dur("CLIENT_IDLE_TIMEOUT", "120s")
	e.ClientHeader = dur("CLIENT_HEADER_TIMEOUT", "10s")
	e.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", "60s")
	if v := get("MAX_UPLOAD_SIZE", ""); v != "" {
		n, err := ParseSize(v)
		if err != nil || n <= 0 {
			probs = append(probs, fmt.Sprintf("MAX_UPLOAD_SIZE: %q is not a positive size", v))
		}
		e.MaxUploadSize = n
	}
	e.DiskMinFree = sizeOrOff("DISK_MIN_FREE", "64MiB")
	jc := get("JOB_CONCURRENCY", "4")
	if n, err := strconv.Atoi(jc); err != nil || n < 1 {
		probs = append(probs, fmt.Sprintf("JOB_CONCURRENCY: %q is not a positive integer", jc))
	} else {
		e.JobConcurrency = n
	}
	mf := get("MAX_CONCURRENT_FILLS", "256")
	if n, err := strconv.Atoi(mf); err != nil || n < 0 {
		probs = append(probs, fmt.Sprintf("MAX_CONCURRENT_FILLS: %q is not a whole number (0: no limit)", mf))
	} else {
		e.MaxFills = n
	}
	af := get("AUTH_FAILURES_PER_MINUTE", "20")
	if n, err := strconv.Atoi(af); err != nil || n < 0 {
		probs = append(probs, fmt.Sprintf("AUTH_FAILURES_PER_MINUTE: %q is not a whole number (0: no limit)", af))
	} else {
		e.AuthFailures = n
	}
	probs = append(probs, unsafeProblems(e)...)
	if len(probs) > 0 {
		return e, &ValidationError{File: "environment", Problems: probs}
	}
	return e, nil
}

// Config is the complete effective configuration.
type Config struct {
	Env     Env
	Remotes *File
}

// Load reads the environment and the remotes file.
func Load() (*Config, error) {
	e, err := LoadEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	f, err := LoadRemotesFile(e.RemotesPath)
	if err != nil {
		return nil, err
	}
	return &Config{Env: e, Remotes: f}, nil
}

// Secrets returns every configured secret value, for scrubbing.
func (c *Config) Secrets() []string {
	var s []string
	add := func(v string) {
		if len(v) >= 3 {
			s = append(s, v)
		}
	}
	add(c.Env.AdminToken)
	add(c.Env.MetricsToken)
	add(c.Env.MinIOSecretKey)
	add(dsnPassword(c.Env.DatabaseURL))
	add(dsnPassword(c.Env.RedisURL))
	if c.Remotes != nil {
		for _, r := range c.Remotes.Remotes {
			add(r.Password)
		}
	}
	return s
}

// kvPassword finds a password in a keyword/value DSN ("host=db password=x")
// or a URL query ("?password=x").
var kvPassword = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'&]+)`)

// dsnPassword returns the password of a URL or keyword/value DSN ("" when none).
func dsnPassword(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	if m := kvPassword.FindStringSubmatch(s); m != nil {
		if v := m[2]; strings.HasPrefix(v, "'") {
			return strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
		}
		return m[2]
	}
	return ""
}

// RedactURL removes the password from a URL string or keyword/value DSN.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			s = u.String()
		}
	}
	return kvPassword.ReplaceAllString(s, "${1}REDACTED")
}

// Redacted returns the effective configuration as JSON-ready data with every
// secret replaced by "REDACTED" (or omitted).
func (c *Config) Redacted(backends map[string]string) map[string]any {
	remotes := map[string]any{}
	if c.Remotes != nil {
		for _, name := range c.Remotes.Names() {
			r := c.Remotes.Remotes[name]
			m := map[string]any{
				"name": name, "type": r.Type, "access": r.Access, "package": r.Package, "description": r.Description,
				"base_url": r.BaseURL, "immutable_patterns": nonNil(r.ImmutablePatterns),
				"mutable_patterns": nonNil(r.MutablePatterns), "package_mutable_patterns": nonNil(PackageDefaults(r.Package)),
				"check_mutable_updates": r.CheckMutableUpdates, "allow_overwrite": r.AllowOverwrite,
				"allow_private_redirects": r.AllowPrivateRedirects,
				"cache":                   map[string]any{"immutable_ttl": r.immTTL, "mutable_ttl": r.mutTTL, "max_size": r.Cache.MaxSize},
				"negative_ttl":            r.negTTL,
			}
			if r.Username != "" {
				m["username"] = r.Username
			}
			if r.Password != "" {
				m["password"] = "REDACTED"
			}
			if r.Package == PackageDocker {
				m["registry_host"] = r.Registry()
			}
			remotes[name] = m
		}
	}
	e := c.Env
	env := map[string]any{
		"listen_addr": e.ListenAddr, "advertise_url": e.AdvertiseURL, "remotes_config": e.RemotesPath, "data_dir": e.DataDir,
		"minio_bucket": e.MinIOBucket, "minio_endpoint": e.MinIOEndpoint, "minio_secure": e.MinIOSecure,
		"hot_cache_dir": e.HotCacheDir, "hot_cache_size": e.HotCacheSize,
		"log_format": e.LogFormat, "upstream_connect_timeout": e.ConnectTimeout.String(),
		"upstream_header_timeout": e.HeaderTimeout.String(), "upstream_idle_timeout": e.IdleTimeout.String(),
		"shutdown_timeout": e.ShutdownTimeout.String(), "max_upload_size": e.MaxUploadSize, "disk_min_free": e.DiskMinFree, "job_concurrency": e.JobConcurrency, "max_concurrent_fills": e.MaxFills, "job_retention": e.JobRetention.String(),
		"audit_retention": e.AuditRetention.String(), "auth_cache_ttl": e.AuthCacheTTL.String(),
		"admin_token": "REDACTED",
	}
	if e.MinIOSecretKey != "" {
		env["minio_secret_key"] = "REDACTED"
	}
	if e.MinIOAccessKey != "" {
		env["minio_access_key"] = e.MinIOAccessKey
	}
	if e.DatabaseURL != "" {
		env["database_url"] = RedactURL(e.DatabaseURL)
	}
	if e.RedisURL != "" {
		env["redis_url"] = RedactURL(e.RedisURL)
	}
	out := map[string]any{"remotes": remotes, "environment": env, "backends": backends}
	if c.Remotes != nil && c.Remotes.DefaultDockerRemote != "" {
		out["default_docker_remote"] = c.Remotes.DefaultDockerRemote
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
