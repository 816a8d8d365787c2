package cache

import "artifactapi/db"

// Artifact is the metadata of a cached file, as the engine's consumers
// (Revalidator, Request.Acceptable) see it, so they need not import db.
type Artifact = db.Artifact
