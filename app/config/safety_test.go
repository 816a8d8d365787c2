package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// goodToken is a token production mode accepts.
const goodToken = "7f3c9a1e5b2d4c6a8e0f1a3b5c7d9e2f4a6b8c0d"

// production is the environment of a production deployment with acceptable
// settings, changed by each case.
func production(change map[string]string) map[string]string {
	env := map[string]string{"DBHOST": "db", "DBUSER": "app", "DBPASS": "db-secret-value", "DBNAME": "a",
		"REDIS_URL": "redis://cache:6379", "MINIO_ENDPOINT": "s3:9000", "MINIO_ACCESS_KEY": "artifactapi",
		"MINIO_SECRET_KEY": "s3-secret-value-0123", "ADMIN_TOKEN": goodToken, "ADVERTISE_URL": "http://10.0.0.5:8000"}
	for k, v := range change {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}

// TestProductionRefusesUnsafeSettings: with any production backend
// configured, a placeholder or short ADMIN_TOKEN, MinIO's default
// credentials and an ADVERTISE_URL other replicas cannot use stop start-up
// with a message naming the variable and the fix, never the secret.
func TestProductionRefusesUnsafeSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; nil: accepted
	}{
		{name: "acceptable", env: production(nil)},
		{name: "token unset (each replica would make up its own)", env: production(map[string]string{"ADMIN_TOKEN": ""}),
			want: []string{"ADMIN_TOKEN", "unset", "every replica"}},
		{name: "short token", env: production(map[string]string{"ADMIN_TOKEN": "s3cr3t-but-only-24-chars"}),
			want: []string{"ADMIN_TOKEN", "shorter than 32", "openssl rand"}},
		{name: "change-me", env: production(map[string]string{"ADMIN_TOKEN": "change-me"}), want: []string{"ADMIN_TOKEN", "placeholder"}},
		{name: "changeme padded to length", env: production(map[string]string{"ADMIN_TOKEN": "changeme-changeme-changeme-changeme"}),
			want: []string{"ADMIN_TOKEN", "placeholder"}},
		{name: "admin", env: production(map[string]string{"ADMIN_TOKEN": "admin"}), want: []string{"ADMIN_TOKEN", "shorter than 32"}},
		{name: "the placeholder deploy/k8s/secret.yaml used to ship", env: production(map[string]string{"ADMIN_TOKEN": "REPLACE-WITH-A-RANDOM-TOKEN"}),
			want: []string{"ADMIN_TOKEN", "placeholder"}},
		{name: "long but not random", env: production(map[string]string{"ADMIN_TOKEN": strings.Repeat("ab", 20)}),
			want: []string{"ADMIN_TOKEN", "random"}},
		{name: "only Redis configured is production too", env: map[string]string{"REDIS_URL": "redis://cache:6379", "ADMIN_TOKEN": "change-me"},
			want: []string{"ADMIN_TOKEN"}},
		{name: "default MinIO credentials", env: production(map[string]string{"MINIO_ACCESS_KEY": "minioadmin", "MINIO_SECRET_KEY": "minioadmin"}),
			want: []string{"MINIO_SECRET_KEY", "default credentials"}},
		{name: "default MinIO secret with another key", env: production(map[string]string{"MINIO_SECRET_KEY": "minioadmin"}),
			want: []string{"MINIO_SECRET_KEY"}},
		{name: "bracketed IPv6 advertise URL", env: production(map[string]string{"ADVERTISE_URL": "http://[fd00::1]:8000"})},
		{name: "bare IPv6 advertise URL", env: production(map[string]string{"ADVERTISE_URL": "http://fd00::1:8000"}),
			want: []string{"ADVERTISE_URL", "without brackets", "write http://[fd00::1]:8000"}},
		{name: "bare IPv6 advertise URL without port", env: production(map[string]string{"ADVERTISE_URL": "https://2001:db8::7"}),
			want: []string{"ADVERTISE_URL", "write https://[2001:db8::7]"}},
		{name: "advertise URL without scheme", env: production(map[string]string{"ADVERTISE_URL": "10.0.0.5:8000"}),
			want: []string{"ADVERTISE_URL", "http(s) URL"}},
		{name: "advertise URL with a bad port", env: production(map[string]string{"ADVERTISE_URL": "http://10.0.0.5:99999"}),
			want: []string{"ADVERTISE_URL", "port"}},
		{name: "short metrics token", env: production(map[string]string{"METRICS_TOKEN": "abc123"}), want: []string{"METRICS_TOKEN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadEnv(envFunc(tc.env))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("accepted (err %v)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			for _, k := range []string{"ADMIN_TOKEN", "MINIO_SECRET_KEY", "METRICS_TOKEN", "DBPASS"} {
				if v := tc.env[k]; len(v) >= 3 && strings.Contains(err.Error(), v) {
					t.Errorf("error shows the value of %s: %v", k, err)
				}
			}
		})
	}
}

// TestEmbeddedAcceptsAnyToken: without production backends the instance is
// a laptop's (`make run` with ADMIN_TOKEN=change-me in the README).
func TestEmbeddedAcceptsAnyToken(t *testing.T) {
	if _, err := config.LoadEnv(envFunc(map[string]string{"ADMIN_TOKEN": "change-me"})); err != nil {
		t.Fatalf("embedded mode refused a short token: %v", err)
	}
}

// TestEnvVarsListEveryVariableRead: every variable the package reads is in
// EnvVars, so --help and docs/deploy.md (generated from it) list it.
func TestEnvVarsListEveryVariableRead(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, v := range config.EnvVars {
		listed[v.Name] = true
	}
	read := regexp.MustCompile(`\b(?:get|getenv|dur|Getenv)\("([A-Z][A-Z0-9_]+)"`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range read.FindAllStringSubmatch(string(b), -1) {
			seen++
			if !listed[m[1]] {
				t.Errorf("%s reads %s, which EnvVars does not list", f, m[1])
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d variable reads: the pattern no longer matches the code", seen)
	}
}

// TestAdvertiseFromPodIP: with ADVERTISE_URL unset, POD_IP (Kubernetes
// status.podIP) gives http://<ip>:<listen port>, an IPv6 address bracketed,
// so one manifest works on IPv4, IPv6 and dual-stack clusters; an explicit
// ADVERTISE_URL wins.
func TestAdvertiseFromPodIP(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "IPv4", env: map[string]string{"POD_IP": "10.42.0.7"}, want: "http://10.42.0.7:8000"},
		{name: "IPv6", env: map[string]string{"POD_IP": "fd00:10:42::7"}, want: "http://[fd00:10:42::7]:8000"},
		{name: "listen port", env: map[string]string{"POD_IP": "fd00::7", "LISTEN_ADDR": ":9000"}, want: "http://[fd00::7]:9000"},
		{name: "PORT", env: map[string]string{"POD_IP": "10.0.0.9", "PORT": "8080"}, want: "http://10.0.0.9:8080"},
		{name: "explicit ADVERTISE_URL wins", env: map[string]string{"POD_IP": "10.0.0.9", "ADVERTISE_URL": "http://svc-0.example:8000"}, want: "http://svc-0.example:8000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := production(map[string]string{"ADVERTISE_URL": ""})
			for k, v := range tc.env {
				env[k] = v
			}
			e, err := config.LoadEnv(envFunc(env))
			if err != nil {
				t.Fatal(err)
			}
			if e.AdvertiseURL != tc.want {
				t.Fatalf("ADVERTISE_URL %q, want %q", e.AdvertiseURL, tc.want)
			}
		})
	}
}
