package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"artifactapi/app/apptest"
)

// TestEmptyUploadWarns: an empty upload (what curl sends for a file that
// does not exist) is stored, and the answer says it is probably a mistake.
func TestEmptyUploadWarns(t *testing.T) {
	const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: `remotes:
  local:
    type: local
`})
	tests := []struct {
		name     string
		path     string
		body     string
		checksum string
		warn     bool
	}{
		{name: "empty without checksum", path: "/api/local/a.tgz", warn: true},
		{name: "empty with the empty file's checksum", path: "/api/local/b.tgz", checksum: emptySHA, warn: true},
		{name: "content", path: "/api/local/c.tgz", body: "payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := apptest.Admin()
			if tc.checksum != "" {
				hdr["X-Checksum-Sha256"] = tc.checksum
			}
			resp := in.Do(t, http.MethodPut, tc.path, strings.NewReader(tc.body), hdr)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT %s = %d %s", tc.path, resp.StatusCode, b)
			}
			var answer map[string]any
			if err := json.Unmarshal(b, &answer); err != nil {
				t.Fatalf("answer %s: %v", b, err)
			}
			w, has := answer["warning"].(string)
			if has != tc.warn || (tc.warn && !strings.Contains(w, "empty")) {
				t.Fatalf("answer %s: warning present = %v, want %v", b, has, tc.warn)
			}
			if status, _, got := in.Get(t, tc.path, nil); status != http.StatusOK || string(got) != tc.body {
				t.Fatalf("GET %s after upload = %d %q, want 200 %q", tc.path, status, got, tc.body)
			}
		})
	}
}
