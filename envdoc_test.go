package main

import (
	"os"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// TestEnvDocUpToDate: the environment table of docs/deploy.md is the one
// generated from app/config's EnvVars, so every variable the binary reads is
// documented with its default. Fix with `go run ./scripts/envdoc`.
func TestEnvDocUpToDate(t *testing.T) {
	b, err := os.ReadFile("docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.SpliceEnvTable(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Fatal("docs/deploy.md's environment table differs from app/config/env.go: run `go run ./scripts/envdoc` and commit")
	}
	for _, v := range config.EnvVars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("docs/deploy.md does not list %s", v.Name)
		}
	}
}
