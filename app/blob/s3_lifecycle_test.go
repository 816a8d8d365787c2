package blob_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"artifactapi/app/blob"
)

// fakeAWS answers the bucket and lifecycle calls NewS3 makes, the way AWS S3
// does (MinIO refuses abort-incomplete-multipart rules, so it cannot show them).
type fakeAWS struct {
	mu             sync.Mutex
	bucketExists   bool
	makeBucketCode string // error code for CreateBucket; the bucket exists afterwards anyway
	lifecycle      string // current configuration XML, "" for none
	putCode        string // error code for PutBucketLifecycleConfiguration
	made           int    // CreateBucket calls
	puts           []string
}

// fakeStatus maps error codes to HTTP statuses.
var fakeStatus = map[string]int{
	"BucketAlreadyOwnedByYou": http.StatusConflict, "NoSuchLifecycleConfiguration": http.StatusNotFound,
	"NotImplemented": http.StatusNotImplemented, "AccessDenied": http.StatusForbidden,
}

// fail writes an S3 error response.
func (f *fakeAWS) fail(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(fakeStatus[code])
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake</Message></Error>`, code)
}

// ServeHTTP implements http.Handler.
func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodHead:
		if !f.bucketExists {
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodGet && q.Has("lifecycle"):
		if f.lifecycle == "" {
			f.fail(w, "NoSuchLifecycleConfiguration")
			return
		}
		io.WriteString(w, f.lifecycle)
	case r.Method == http.MethodPut && q.Has("lifecycle"):
		body, _ := io.ReadAll(r.Body)
		f.puts = append(f.puts, string(body))
		if f.putCode != "" {
			f.fail(w, f.putCode)
			return
		}
		f.lifecycle = string(body)
	case r.Method == http.MethodPut && len(q) == 0:
		f.made++
		f.bucketExists = true
		if f.makeBucketCode != "" {
			f.fail(w, f.makeBucketCode)
		}
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
	}
}

// TestS3LifecycleRule checks the lifecycle rule NewS3 installs on an AWS-like server.
func TestS3LifecycleRule(t *testing.T) {
	const operator = `<LifecycleConfiguration><Rule><ID>operator-rule</ID><Status>Enabled</Status>` +
		`<Filter><Prefix>scratch/</Prefix></Filter><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>`
	for _, tc := range []struct {
		name    string
		fake    *fakeAWS
		wantErr bool
		made    int
		rules   []string // rule IDs in the stored configuration; nil: no PUT
	}{
		{name: "new bucket", made: 1, rules: []string{"artifactapi-abort-incomplete-multipart"}},
		{name: "bucket created by another replica", fake: &fakeAWS{makeBucketCode: "BucketAlreadyOwnedByYou"},
			made: 1, rules: []string{"artifactapi-abort-incomplete-multipart"}},
		{name: "existing rules are kept", fake: &fakeAWS{bucketExists: true, lifecycle: operator},
			rules: []string{"operator-rule", "artifactapi-abort-incomplete-multipart"}},
		{name: "rule already present", fake: &fakeAWS{bucketExists: true,
			lifecycle: `<LifecycleConfiguration><Rule><ID>artifactapi-abort-incomplete-multipart</ID></Rule></LifecycleConfiguration>`}},
		{name: "lifecycle not implemented", fake: &fakeAWS{bucketExists: true, putCode: "NotImplemented"}},
		{name: "lifecycle denied", fake: &fakeAWS{bucketExists: true, putCode: "AccessDenied"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			if f == nil {
				f = &fakeAWS{}
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			_, err := blob.NewS3(t.Context(), blob.S3Config{
				Endpoint: srv.URL, AccessKey: "ak", SecretKey: "fake-secret-key", Bucket: "bucket", Region: "us-east-1",
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewS3 error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "fake-secret-key") {
				t.Fatalf("secret in error %q", err)
			}
			if f.made != tc.made {
				t.Fatalf("CreateBucket called %d times, want %d", f.made, tc.made)
			}
			if tc.rules == nil {
				if f.putCode == "" && len(f.puts) != 0 {
					t.Fatalf("lifecycle rewritten although unchanged: %s", f.puts)
				}
				return
			}
			var cfg lifecycle.Configuration
			if err := xml.Unmarshal([]byte(f.lifecycle), &cfg); err != nil {
				t.Fatalf("stored lifecycle %q: %v", f.lifecycle, err)
			}
			var ids []string
			for _, r := range cfg.Rules {
				ids = append(ids, r.ID)
				if r.ID == "artifactapi-abort-incomplete-multipart" &&
					(r.Status != "Enabled" || r.AbortIncompleteMultipartUpload.DaysAfterInitiation != 1) {
					t.Fatalf("abort rule = %+v", r)
				}
				if r.ID == "operator-rule" && r.Expiration.Days != 30 {
					t.Fatalf("operator rule changed: %+v", r)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.rules) {
				t.Fatalf("rules = %v, want %v", ids, tc.rules)
			}
		})
	}
}
