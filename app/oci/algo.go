package oci

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"regexp"
	"strings"
)

var sha512Hex = regexp.MustCompile(`^[a-f0-9]{128}$`)

// ParseContentDigest validates a digest of any algorithm a registry must
// accept for pushed content: sha256 or sha512 (OCI image-spec
// descriptor.md#registered-algorithms). Pulls through a mirror keep using
// ParseDigest (sha256 only).
func ParseContentDigest(s string) (Digest, error) {
	alg, enc, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return "", ErrDigestInvalid
	case alg == "sha256" && sha256Hex.MatchString(enc), alg == "sha512" && sha512Hex.MatchString(enc):
		return Digest(s), nil
	}
	return "", ErrDigestInvalid
}

// ParseContentReference is ParseReference accepting sha512 digests too.
func ParseContentReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseContentDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	return ParseReference(s)
}

// Algorithm returns the algorithm part of the digest ("sha256").
func (d Digest) Algorithm() string {
	alg, _, _ := strings.Cut(string(d), ":")
	return alg
}

// NewHash returns a hash of the digest's algorithm (sha256 or sha512).
func (d Digest) NewHash() hash.Hash {
	if d.Algorithm() == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// Matches reports whether h, fed the content, produced this digest.
func (d Digest) Matches(h hash.Hash) bool { return hex.EncodeToString(h.Sum(nil)) == d.Hex() }

// FromBytes returns the digest of b with algorithm alg (sha256 or sha512).
func FromBytes(alg string, b []byte) Digest {
	h := Digest(alg + ":").NewHash()
	h.Write(b)
	return Digest(alg + ":" + hex.EncodeToString(h.Sum(nil)))
}
