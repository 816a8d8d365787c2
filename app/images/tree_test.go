package images

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// fakeSource holds manifests and blobs by digest and counts its reads.
type fakeSource struct {
	manifests map[string]string // digest → body
	types     map[string]string // digest → media type ("" for the body's)
	blobs     map[string]bool
	err       error
}

func (f *fakeSource) Manifest(_ context.Context, d string) ([]byte, string, error) {
	if f.err != nil {
		return nil, "", f.err
	}
	b, ok := f.manifests[d]
	if !ok {
		return nil, "", ErrNotFound
	}
	return []byte(b), f.types[d], nil
}

func (f *fakeSource) Blob(_ context.Context, d string) (bool, error) { return f.blobs[d], nil }

const (
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
)

func image(config string, cfgSize int64, layers ...string) string {
	s := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + config + `","size":` + itoa(cfgSize) + `},"layers":[`
	for i, l := range layers {
		if i > 0 {
			s += ","
		}
		s += `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l + `","size":100}`
	}
	return s + `]}`
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

const index = `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` +
	`{"mediaType":"` + ociManifest + `","digest":"m-amd64","size":300,"platform":{"os":"linux","architecture":"amd64"}},` +
	`{"mediaType":"` + ociManifest + `","digest":"m-arm64","size":300,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},` +
	`{"mediaType":"` + ociManifest + `","digest":"m-att","size":200,"platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.type":"attestation-manifest"}}]}`

func TestBuild(t *testing.T) {
	full := func() *fakeSource {
		return &fakeSource{
			manifests: map[string]string{"idx": index, "m-amd64": image("c-amd64", 10, "shared", "l-amd64"), "m-arm64": image("c-arm64", 20, "shared", "l-arm64"),
				"single": image("c-amd64", 10, "shared")},
			types: map[string]string{"idx": ociIndex},
			blobs: map[string]bool{"c-amd64": true, "c-arm64": true, "shared": true, "l-amd64": true, "l-arm64": true},
		}
	}
	type plat struct {
		name       string
		held       bool
		size, kept int64
		layers     int
	}
	tests := []struct {
		name      string
		src       func() *fakeSource
		digest    string
		held      bool
		mediaType string
		size      int64
		heldSize  int64
		platforms []plat
		layers    []bool // held state of config and layers (an image)
	}{
		{name: "single image: config then layers, all held", src: full, digest: "single", held: true, mediaType: ociManifest,
			size: 110, heldSize: 110, layers: []bool{true, true}},
		{name: "index: platforms with os/arch/variant, a shared layer counted once", src: full, digest: "idx", held: true, mediaType: ociIndex,
			size: 10 + 20 + 300, heldSize: 330, platforms: []plat{
				{name: "linux/amd64", held: true, size: 210, kept: 210, layers: 3},
				{name: "linux/arm64/v8", held: true, size: 220, kept: 220, layers: 3},
				{name: "attestation"},
			}},
		{name: "mirror: one platform pulled, the other's manifest not cached", digest: "idx", held: true, mediaType: ociIndex,
			src: func() *fakeSource {
				f := full()
				delete(f.manifests, "m-arm64")
				f.blobs = map[string]bool{"c-amd64": true, "shared": true}
				return f
			}, size: 210, heldSize: 110, platforms: []plat{
				{name: "linux/amd64", held: true, size: 210, kept: 110, layers: 3},
				{name: "linux/arm64/v8"},
				{name: "attestation"},
			}},
		{name: "manifest not held", src: full, digest: "gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Build(context.Background(), tc.src(), tc.digest)
			if err != nil {
				t.Fatal(err)
			}
			if img.Held != tc.held || img.MediaType != tc.mediaType || img.Size != tc.size || img.HeldSize != tc.heldSize {
				t.Errorf("image held %v, %q, size %d, held %d; want %v, %q, %d, %d", img.Held, img.MediaType, img.Size, img.HeldSize,
					tc.held, tc.mediaType, tc.size, tc.heldSize)
			}
			var got []plat
			for _, p := range img.Platforms {
				got = append(got, plat{name: p.Name(), held: p.Image.Held, size: p.Image.Size, kept: p.Image.HeldSize, layers: len(p.Image.Blobs())})
			}
			if !reflect.DeepEqual(got, tc.platforms) {
				t.Errorf("platforms %+v\nwant %+v", got, tc.platforms)
			}
			var layers []bool
			for _, b := range img.Layers {
				layers = append(layers, b.Held)
			}
			if img.Config != nil && !img.Config.Held {
				t.Errorf("config not held")
			}
			if tc.layers != nil && !reflect.DeepEqual(layers, tc.layers[1:]) {
				t.Errorf("layers held %v, want %v", layers, tc.layers[1:])
			}
		})
	}
}

func TestBuildError(t *testing.T) {
	_, err := Build(context.Background(), &fakeSource{err: errors.New("store down")}, "x")
	if err == nil {
		t.Fatal("a source failure must be an error, not an image that is not held")
	}
}

func TestUntagged(t *testing.T) {
	bodies := map[string]string{"idx": index, "m-amd64": image("c", 1), "old": image("c", 1), "sig": `{"subject":{"digest":"idx"}}`,
		"old-sig": `{"subject":{"digest":"old"}}`}
	subjects := func(d string) string { return subjectOf([]byte(bodies[d])) }
	body := func(d string) []byte { return []byte(bodies[d]) }
	tests := []struct {
		name   string
		held   []string
		tagged []string
		want   []string
	}{
		{name: "children of a tagged index stay", held: []string{"idx", "m-amd64", "m-arm64"}, tagged: []string{"idx"}},
		{name: "an untagged image goes", held: []string{"idx", "m-amd64", "old"}, tagged: []string{"idx"}, want: []string{"old"}},
		{name: "a referrer of a kept manifest stays, of a removed one goes", held: []string{"idx", "sig", "old", "old-sig"}, tagged: []string{"idx"},
			want: []string{"old", "old-sig"}},
		{name: "no tag: all go", held: []string{"m-amd64", "idx"}, want: []string{"idx", "m-amd64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Untagged(tc.held, tc.tagged, body, subjects); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("untagged %v, want %v", got, tc.want)
			}
		})
	}
}
