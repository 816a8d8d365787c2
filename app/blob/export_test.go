package blob

// SetRename replaces the rename function of s (to simulate EXDEV).
func SetRename(s *FS, rename func(oldpath, newpath string) error) { s.rename = rename }

// NewS3Unchecked builds an S3 store without contacting the server.
func NewS3Unchecked(cfg S3Config) *S3 {
	s, err := newS3(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// HotPath is the data file of the hot tier's copy of key at version.
func HotPath(h *Hot, key, version string) string { return h.dataPath(hotName(key, version)) }
