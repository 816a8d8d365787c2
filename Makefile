# artifactapi — see README.md. `make run` and `make test` are the two commands.
SHELL := /bin/bash
GOBIN := $(shell go env GOPATH)/bin
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
TEMPL_VERSION := v0.3.1100
PROMTOOL_VERSION := v0.316.0
export PATH := $(GOBIN):$(PATH)

.PHONY: run build test test-go test-conformance test-e2e fuzz deps deps-apt deps-minio deps-promtool deps-e2e generate check-generate envdoc lint bench bench-ui migrate clean

## run: the embedded default (SQLite + filesystem + in-process), sample remotes.yaml, :8000
run:
	go run . serve

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/artifactapi .

migrate:
	go run . migrate

## deps: everything the tests need on a fresh Debian machine
deps: deps-apt deps-minio deps-promtool

deps-apt:
	@missing=""; for p in docker-registry:docker-registry skopeo:skopeo nginx:nginx createrepo_c:createrepo-c dnf:dnf wrk:wrk chromium:chromium rpmbuild:rpm htpasswd:apache2-utils npm:npm pip3:python3-pip apt-ftparchive:apt-utils reprepro:reprepro gpg:gpg dpkg-deb:dpkg; do \
	  bin=$${p%%:*}; pkg=$${p##*:}; command -v $$bin >/dev/null 2>&1 || [ -x /usr/sbin/$$bin ] || missing="$$missing $$pkg"; done; \
	  python3 -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

deps-minio:
	@command -v minio >/dev/null 2>&1 || [ -x $(GOBIN)/minio ] || { echo "building MinIO from the Go module proxy (several minutes the first time)"; go install github.com/minio/minio@$(MINIO_VERSION); }

## deps-promtool: checks deploy/prometheus/rules.yaml (TestPrometheusRulesCheck builds it too when missing)
deps-promtool:
	@command -v promtool >/dev/null 2>&1 || [ -x $(GOBIN)/promtool ] || { echo "building promtool $(PROMTOOL_VERSION)"; go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION); }

## envdoc: the environment table of docs/deploy.md, from app/config/env.go (TestEnvDocUpToDate checks it)
envdoc:
	go run ./scripts/envdoc

## generate: templ components
generate:
	go tool templ generate

check-generate:
	@ls views/*.templ >/dev/null 2>&1 || { echo "views/*.templ missing" >&2; exit 1; }
	@go tool templ generate >/dev/null && git diff --exit-code -- views || { echo "generated templ files are stale: run make generate and commit"; exit 1; }

## test: every test — lint, fuzzing, unit, integration on both backends under the race detector, real clients, OCI conformance, browser
test: deps lint check-generate fuzz test-go test-conformance test-e2e

test-go:
	scripts/with-services.sh go test -race -count=1 -timeout 40m ./...

## test-deploy: helm lint, helm template (default, external-backends, minimal values) and kustomize build of
## both overlays, every object checked (restricted Pod Security, probes, drain, spool, PDB, NetworkPolicy…);
## part of test-go. helm and kustomize are built from the Go module proxy at pinned versions.
.PHONY: test-deploy
test-deploy:
	go test -count=1 ./deploy/

## fuzz: every Go fuzz target for FUZZTIME (seed corpora in testdata/fuzz/<FuzzName>/); a failure
## leaves its input in testdata/fuzz/<FuzzName>/: commit it with the fix.
FUZZTIME ?= 30000x
FUZZ_TARGETS := \
	./app/config:FuzzCleanPath ./app/config:FuzzParseRemotes \
	./app/oci:FuzzSplitPath ./app/oci:FuzzParseReference \
	./app/httpserve:FuzzParseRange ./app/httpserve:FuzzNotModified ./app/httpserve:FuzzAttachment \
	./app/formats:FuzzMetadata ./app/formats:FuzzNormalizePyPIName ./app/formats:FuzzNPMDocumentPath

fuzz:
	@listed=$$(for t in $(FUZZ_TARGETS); do echo $${t##*:}; done | sort); \
	found=$$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git . | sed 's/^func //' | sort); \
	[ "$$listed" = "$$found" ] || { echo "FUZZ_TARGETS does not list every func Fuzz…: listed [$$listed] found [$$found]"; exit 1; }
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t%%:*} $${t##*:} ($(FUZZTIME))"; \
	  go test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime=$(FUZZTIME) -parallel 2 "$${t%%:*}"; done

## test-conformance: the OCI distribution-spec conformance suite (pinned, built from the Go module proxy)
## against a local docker repository, then read-only through a mirror remote of a seeded docker-registry,
## embedded and PostgreSQL+Redis+MinIO; fails unless every test passes (CONFORMANCE_MODES=push|readonly)
test-conformance:
	scripts/with-services.sh scripts/conformance.sh

test-e2e:
	@test -f e2e/package.json || { echo "e2e/package.json missing: the browser suite cannot run" >&2; exit 1; }
	scripts/with-services.sh scripts/e2e.sh

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:" >&2; echo "$$out" >&2; exit 1; fi
	go vet ./...

## bench: the dashboard's remote page (bench-ui), artifactapi vs nginx proxy_cache, the registry mirror vs direct pulls,
## then pip/npm through pypi/npm remotes vs direct, then the cost per hit and per GiB of docs/scaling.md (results in bench/out/)
bench: bench-ui
	scripts/with-services.sh bench/run.sh
	scripts/with-services.sh bench/registry.sh
	scripts/with-services.sh bench/formats.sh
	scripts/with-services.sh bench/scale.sh

## bench-ui: the dashboard's remote page with 10,000 cached artifacts on SQLite and PostgreSQL:
## server time per page (ns/op, target under 100 ms) and HTML size (html-bytes, target under 300 KB)
bench-ui:
	scripts/with-services.sh go test -run '^$$' -bench '^BenchmarkRemotePage$$' -benchtime 100x -count 1 ./app/ui

clean:
	rm -rf bin data
