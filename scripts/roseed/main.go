// Command roseed seeds a registry (docker-registry in scripts/conformance.sh)
// with the content the OCI conformance suite reads in read-only mode, and
// prints the suite's OCI_RO_DATA_* variables, one NAME=value a line, then
// RO_REFERRER=<subject> <referrer>: the referrer the mirror must list.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"artifactapi/app/registry/registrytest"
)

func main() {
	base := flag.String("registry", "", "registry root URL, e.g. http://127.0.0.1:5000")
	repo := flag.String("repo", "conformance/ro", "repository to seed")
	flag.Parse()
	if *base == "" {
		fmt.Fprintln(os.Stderr, "roseed: -registry is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := registrytest.SeedReadOnly(ctx, &registrytest.Pusher{Base: *base}, *repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "roseed:", err)
		os.Exit(1)
	}
	for _, kv := range d.Env() {
		fmt.Println(kv)
	}
	fmt.Printf("RO_REFERRER=%s %s\n", d.Referrers[0], d.Referrer.Digest)
}
