package registrytest

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Blobs returns an image's blobs and manifest, or an index's (every image's
// and the index's own manifest): what an OCI layout of it holds.
func (img *Image) Blobs() []Blob {
	return append(append([]Blob{img.Config}, img.Layers...), img.Manifest)
}

// Blobs returns every blob and manifest of the index, its own last.
func (ix *Index) Blobs() []Blob {
	var out []Blob
	for _, img := range ix.Images {
		out = append(out, img.Blobs()...)
	}
	return append(out, ix.Manifest)
}

// WriteLayout writes an OCI image layout (image-spec, image-layout.md) at
// dir whose index.json lists top, with blobs (top included) under
// blobs/sha256: what `crane push DIR` and `skopeo copy oci:DIR` read.
func WriteLayout(dir string, top Blob, blobs []Blob) error {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	for _, b := range blobs {
		hex, ok := strings.CutPrefix(b.Digest, "sha256:")
		if !ok {
			return fmt.Errorf("layout: %s is not sha256", b.Digest)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", hex), b.Data, 0o644); err != nil {
			return err
		}
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": []descriptor{top.desc()}})
	if err != nil {
		return err
	}
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": index}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TarFiles reads the regular files of a tar stream, gzip'd or not, by name.
func TarFiles(r io.Reader) (map[string][]byte, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(h.Name, "/")] = b
	}
}
