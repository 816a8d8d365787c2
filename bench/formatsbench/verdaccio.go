package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// verdaccio is a real npm registry, Verdaccio (-verdaccio: the path of its
// executable, which bench/formats.sh installs from the npm registry), as
// the local upstream of the third comparison: a registry as operators run
// one, answering from its own storage with its own per-request work, where
// the in-memory upstream of the other rows is the fastest upstream there
// can be. It runs on the servers' CPUs like the rest (it inherits this
// command's affinity) and holds the same generated packages, published
// to it over its API as `npm publish` does.
type verdaccio struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startVerdaccio(ctx context.Context, bin, work string, u *npmUpstream) (*verdaccio, error) {
	dir := filepath.Join(work, "verdaccio")
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, err
	}
	// Its shipped configuration without uplinks (no internet here), with
	// anonymous publishing for the packages below and request logging
	// left at its default level.
	conf := "storage: " + filepath.Join(dir, "storage") + "\n" +
		"auth:\n  htpasswd:\n    file: " + filepath.Join(dir, "htpasswd") + "\n    max_users: -1\n" +
		"uplinks: {}\n" +
		"packages:\n  '**':\n    access: $all\n    publish: $anonymous\n" +
		"server:\n  keepAliveTimeout: 60\n" +
		"logs: { type: stdout, format: pretty, level: http }\n"
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	v := &verdaccio{url: "http://" + addr, done: make(chan struct{})}
	v.cmd = exec.CommandContext(ctx, bin, "--config", file, "--listen", addr)
	v.cmd.Dir = dir
	log, err := os.Create(filepath.Join(dir, "verdaccio.log"))
	if err != nil {
		return nil, err
	}
	v.cmd.Stdout, v.cmd.Stderr = log, log
	if err := v.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("verdaccio: %w", err)
	}
	go func() { _ = v.cmd.Wait(); log.Close(); close(v.done) }()
	if err := waitReady(v.url+"/-/ping", v.done); err != nil {
		v.stop()
		b, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("verdaccio: %w:\n%s", err, b)
	}
	for _, name := range u.names {
		if err := v.publish(ctx, name, u.tarballs[name]); err != nil {
			v.stop()
			return nil, err
		}
	}
	return v, nil
}

// publish puts one package version as `npm publish` sends it: the
// package document with the tarball attached.
func (v *verdaccio) publish(ctx context.Context, name string, tgz []byte) error {
	s512, s1 := sha512.Sum512(tgz), sha1.Sum(tgz)
	file := name + "-1.0.0.tgz"
	doc := map[string]any{"_id": name, "name": name, "description": "a benchmark package", "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": map[string]any{"_id": name + "@1.0.0", "name": name, "version": "1.0.0", "main": "index.js",
			"dist": map[string]any{"tarball": v.url + "/" + name + "/-/" + file, "shasum": hex.EncodeToString(s1[:]),
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:])}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}}}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, v.url+"/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("verdaccio: publish %s: %w", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("verdaccio: publish %s: %s", name, resp.Status)
	}
	return nil
}

func (v *verdaccio) stop() { stopProc(v.cmd, v.done, 10*time.Second) }

// upstreamFetches is the number of upstream fetches artifactapi has made
// for the remotes whose names start with prefix, from its Prometheus
// metrics (artifactapi_upstream_fetch_seconds_count, every outcome).
func upstreamFetches(app, prefix string) (int, error) {
	resp, err := http.Get("http://" + app + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "artifactapi_upstream_fetch_seconds_count{") || !strings.Contains(line, `remote="`+prefix) {
			continue
		}
		f := strings.Fields(line)
		c, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: %q: %w", line, err)
		}
		n += int(c)
	}
	return n, sc.Err()
}
