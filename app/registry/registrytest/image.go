package registrytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Media types the built images use.
const (
	OCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	OCIIndex       = "application/vnd.oci.image.index.v1+json"
	OCIConfig      = "application/vnd.oci.image.config.v1+json"
	OCILayer       = "application/vnd.oci.image.layer.v1.tar+gzip"
	DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfig   = "application/vnd.docker.container.image.v1+json"
	DockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// Blob is content with its descriptor.
type Blob struct {
	MediaType string
	Digest    string
	Data      []byte
}

func newBlob(mediaType string, data []byte) Blob {
	return Blob{MediaType: mediaType, Digest: Digest(data), Data: data}
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

type descriptor struct {
	MediaType string            `json:"mediaType"`
	Digest    string            `json:"digest"`
	Size      int               `json:"size"`
	Platform  map[string]string `json:"platform,omitempty"`
}

func (b Blob) desc() descriptor {
	return descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: len(b.Data)}
}

// Image is a single-platform image: config, layers and manifest.
type Image struct {
	OS, Arch string
	Config   Blob
	Layers   []Blob
	Manifest Blob
}

// NewImage builds an image for platform "os/arch" with one layer of random
// content per size (a gzip'd tar holding one file). docker selects Docker
// schema 2 media types instead of OCI ones.
func NewImage(platform string, layerSizes []int, docker bool) (*Image, error) {
	osName, arch, _ := strings.Cut(platform, "/")
	img := &Image{OS: osName, Arch: arch}
	cfgType, layerType, manType := OCIConfig, OCILayer, OCIManifest
	if docker {
		cfgType, layerType, manType = DockerConfig, DockerLayer, DockerManifest
	}
	var diffIDs []string
	for i, n := range layerSizes {
		gz, diffID, err := randomLayer(fmt.Sprintf("file-%d", i), n)
		if err != nil {
			return nil, err
		}
		img.Layers = append(img.Layers, newBlob(layerType, gz))
		diffIDs = append(diffIDs, diffID)
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": arch, "os": osName, "config": map[string]any{"Cmd": []string{"/file-0"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	img.Config = newBlob(cfgType, cfg)
	layers := make([]descriptor, len(img.Layers))
	for i, l := range img.Layers {
		layers[i] = l.desc()
	}
	m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": manType, "config": img.Config.desc(), "layers": layers})
	img.Manifest = newBlob(manType, m)
	return img, nil
}

// randomLayer returns a gzip'd (stored, uncompressed deflate: random bytes
// do not compress) tar with one file of n random bytes, and its diff ID.
func randomLayer(name string, n int) (gz []byte, diffID string, err error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		return nil, "", err
	}
	if _, err := io.CopyN(tw, rand.Reader, int64(n)); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.NoCompression)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), Digest(tarBuf.Bytes()), nil
}

// Index is a multi-platform image.
type Index struct {
	Images   []*Image
	Manifest Blob
}

// NewIndex builds an OCI index of one small image per platform.
func NewIndex(platforms []string, layerSize int) (*Index, error) {
	ix := &Index{}
	var ms []descriptor
	for _, p := range platforms {
		img, err := NewImage(p, []int{layerSize}, false)
		if err != nil {
			return nil, err
		}
		ix.Images = append(ix.Images, img)
		d := img.Manifest.desc()
		d.Platform = map[string]string{"os": img.OS, "architecture": img.Arch}
		ms = append(ms, d)
	}
	m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": ms})
	ix.Manifest = newBlob(OCIIndex, m)
	return ix, nil
}

// Pusher pushes to a registry through its API (monolithic uploads).
type Pusher struct {
	Base       string // http://host:port
	User, Pass string
	Client     *http.Client
}

func (p *Pusher) do(ctx context.Context, method, u string, body []byte, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Pass)
	}
	cl := p.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	return cl.Do(req)
}

// PushBlob uploads b to repository name unless it is already there.
func (p *Pusher) PushBlob(ctx context.Context, name string, b Blob) error {
	resp, err := p.do(ctx, http.MethodHead, p.Base+"/v2/"+name+"/blobs/"+b.Digest, nil, "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	resp, err = p.do(ctx, http.MethodPost, p.Base+"/v2/"+name+"/blobs/uploads/", nil, "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("start upload %s: HTTP %d", name, resp.StatusCode)
	}
	loc, err := url.Parse(p.Base + "/")
	if err != nil {
		return err
	}
	loc, err = loc.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", b.Digest)
	loc.RawQuery = q.Encode()
	resp, err = p.do(ctx, http.MethodPut, loc.String(), b.Data, "application/octet-stream")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload %s %s: HTTP %d", name, b.Digest, resp.StatusCode)
	}
	return nil
}

// PushManifest puts a manifest under ref (a tag or its digest).
func (p *Pusher) PushManifest(ctx context.Context, name, ref string, m Blob) error {
	resp, err := p.do(ctx, http.MethodPut, p.Base+"/v2/"+name+"/manifests/"+ref, m.Data, m.MediaType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("put manifest %s:%s: HTTP %d: %s", name, ref, resp.StatusCode, b)
	}
	return nil
}

// PushImage pushes an image's blobs and its manifest under tag.
func (p *Pusher) PushImage(ctx context.Context, name, tag string, img *Image) error {
	for _, b := range append([]Blob{img.Config}, img.Layers...) {
		if err := p.PushBlob(ctx, name, b); err != nil {
			return err
		}
	}
	return p.PushManifest(ctx, name, tag, img.Manifest)
}

// PushIndex pushes every image by digest, then the index under tag.
func (p *Pusher) PushIndex(ctx context.Context, name, tag string, ix *Index) error {
	for _, img := range ix.Images {
		if err := p.PushImage(ctx, name, img.Manifest.Digest, img); err != nil {
			return err
		}
	}
	return p.PushManifest(ctx, name, tag, ix.Manifest)
}
