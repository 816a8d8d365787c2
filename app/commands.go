package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"artifactapi/app/backup"
	"artifactapi/app/blob"
	"artifactapi/app/config"
	"artifactapi/db"
)

// HealthURL is where `artifactapi healthcheck` asks by default: /health on
// the loopback address of the port the server listens on (LISTEN_ADDR or
// PORT, read through getenv).
func HealthURL(getenv func(string) string) string {
	addr := strings.TrimSpace(getenv("LISTEN_ADDR"))
	if addr == "" {
		port := strings.TrimSpace(getenv("PORT"))
		if port == "" {
			port = "8000"
		}
		addr = ":" + port
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8000/health"
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health"
}

// Healthcheck asks url once and succeeds on a 200 answer within timeout.
// It is the container health check of an image without a shell or curl
// (`artifactapi healthcheck`); it never needs the configuration.
func Healthcheck(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}

// Migrate applies the pending metadata-store migrations of e's store and
// closes it: what a deployment runs before new replicas start (a Helm
// pre-upgrade Job). It opens nothing else.
func Migrate(ctx context.Context, e config.Env, log *slog.Logger) error {
	st, err := openMeta(ctx, e)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "metadata", st.Describe())
	return st.Close()
}

// openMeta opens (and migrates) the metadata store e names.
func openMeta(ctx context.Context, e config.Env) (db.Store, error) {
	if e.DatabaseURL != "" {
		st, err := db.OpenPostgres(ctx, e.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		return st, nil
	}
	st, err := db.OpenSQLite(ctx, filepath.Join(e.DataDir, "artifactapi.db"))
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return st, nil
}

// openBlobs opens the blob store e names (creating the bucket or directory);
// count, when set, counts the requests sent to S3.
func openBlobs(ctx context.Context, e config.Env, count func(ctx context.Context, n int)) (blob.Store, error) {
	if e.MinIOEndpoint != "" {
		st, err := blob.NewS3(ctx, blob.S3Config{Endpoint: e.MinIOEndpoint, AccessKey: e.MinIOAccessKey,
			SecretKey: e.MinIOSecretKey, Bucket: e.MinIOBucket, Secure: e.MinIOSecure, Region: e.MinIORegion,
			CountRequests: count})
		if err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
		return st, nil
	}
	st, err := blob.NewFS(filepath.Join(e.DataDir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return st, nil
}

// openDump opens the metadata store (as a Dumper) and the blob store of e.
func openDump(ctx context.Context, e config.Env) (db.Store, db.Dumper, blob.Store, error) {
	st, err := openMeta(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	d, ok := st.(db.Dumper)
	if !ok {
		st.Close()
		return nil, nil, nil, fmt.Errorf("metadata: %s cannot be backed up", st.Describe())
	}
	blobs, err := openBlobs(ctx, e, nil)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, d, blobs, nil
}

// Backup writes the metadata store and the blob objects it references to
// dir (see package backup); the server may keep running meanwhile.
func Backup(ctx context.Context, e config.Env, dir string, log *slog.Logger) (backup.Report, error) {
	st, d, blobs, err := openDump(ctx, e)
	if err != nil {
		return backup.Report{}, err
	}
	defer st.Close()
	log.Info("backup: started", "metadata", st.Describe(), "blobs", blobs.Describe(), "to", dir)
	rep, err := backup.Backup(ctx, d, blobs, dir, Version, log)
	if err != nil {
		return rep, err
	}
	log.Info("backup: complete", "rows", rep.Rows, "objects", rep.Objects, "bytes", rep.Bytes, "left_out", rep.Dropped)
	return rep, nil
}

// Restore loads the backup in dir into the (empty) metadata store and the
// blob store of e. No server may use them meanwhile.
func Restore(ctx context.Context, e config.Env, dir string, log *slog.Logger) (backup.Report, error) {
	st, d, blobs, err := openDump(ctx, e)
	if err != nil {
		return backup.Report{}, err
	}
	defer st.Close()
	log.Info("restore: started", "metadata", st.Describe(), "blobs", blobs.Describe(), "from", dir)
	rep, err := backup.Restore(ctx, d, blobs, dir, log)
	if err != nil {
		return rep, err
	}
	log.Info("restore: complete", "rows", rep.Rows, "objects", rep.Objects, "bytes", rep.Bytes, "left_out", rep.Dropped)
	return rep, nil
}
