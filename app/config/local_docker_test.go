package config_test

import (
	"testing"

	"artifactapi/app/config"
)

// TestLocalDockerRemote checks that a local docker repository is accepted,
// with a quota.
func TestLocalDockerRemote(t *testing.T) {
	r := remote(t, "type: local\npackage: docker\ncache:\n  max_size: 1GiB")
	if !r.IsLocal() || r.Package != config.PackageDocker || r.MaxSizeBytes() != 1<<30 {
		t.Fatalf("remote = %+v (local %v, max %d)", r, r.IsLocal(), r.MaxSizeBytes())
	}
}
