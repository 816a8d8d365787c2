// Command s3clean empties and removes one S3/MinIO bucket: bench/run.sh uses
// it to remove the bucket its production-backend run created, even after a
// failure. It refuses bucket names without the "bench-" prefix.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	endpoint := flag.String("endpoint", os.Getenv("MINIO_ENDPOINT"), "host:port")
	access := flag.String("access", os.Getenv("MINIO_ACCESS_KEY"), "access key")
	secret := flag.String("secret", os.Getenv("MINIO_SECRET_KEY"), "secret key")
	bucket := flag.String("bucket", "", "bucket to empty and remove (must start with bench-)")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if *endpoint == "" || !strings.HasPrefix(*bucket, "bench-") {
		fmt.Fprintln(os.Stderr, "s3clean: need -endpoint and a -bucket starting with bench-")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *endpoint, *access, *secret, *bucket); err != nil {
		fmt.Fprintln(os.Stderr, "s3clean:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, access, secret, bucket string) error {
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		return err
	}
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil || !ok {
		return err // nothing to do when it does not exist
	}
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err == nil {
			_ = c.RemoveIncompleteUpload(ctx, bucket, u.Key)
		}
	}
	objs := make(chan minio.ObjectInfo)
	go func() {
		defer close(objs)
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				return
			}
			objs <- o
		}
	}()
	for e := range c.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return fmt.Errorf("remove %s: %w", e.ObjectName, e.Err)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		return fmt.Errorf("remove bucket %s: %w", bucket, err)
	}
	return nil
}
