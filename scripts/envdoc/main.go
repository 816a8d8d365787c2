// Command envdoc writes the environment variable table of docs/deploy.md
// from app/config's EnvVars, between its markers. Run from the repository
// root: go run ./scripts/envdoc (TestEnvDocUpToDate fails when it is due).
package main

import (
	"fmt"
	"os"

	"artifactapi/app/config"
)

const doc = "docs/deploy.md"

func main() {
	b, err := os.ReadFile(doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := config.SpliceEnvTable(string(b))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", doc, err)
		os.Exit(1)
	}
	if err := os.WriteFile(doc, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
