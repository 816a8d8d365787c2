package app

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/localrepo"
	"artifactapi/db"
)

// uploadSweep is how often abandoned registry uploads are looked for.
const uploadSweep = 5 * time.Minute

// openLocalRepos builds the store of local docker repositories on the
// metadata and blob stores, and starts expiring abandoned uploads (on every
// replica: each session is removed by one).
func (a *App) openLocalRepos(ctx context.Context) {
	rs, ok := a.Meta.(interface{ Registry() db.RegistryStore })
	if !ok {
		a.log.Warn("metadata store has no registry tables: local docker repositories are disabled")
		return
	}
	spool := filepath.Join(a.Config().Env.DataDir, "registry-spool")
	_ = os.RemoveAll(spool) // chunks of a killed process are never used
	a.Local = localrepo.New(localrepo.Options{Meta: rs.Registry(), Blobs: a.Blobs, Log: a.log, SpoolDir: spool,
		GCGrace: a.Config().Env.RegistryGCGrace})
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopLocal = cancel
	go a.Local.Run(run, uploadSweep)
}

// registryGC runs a garbage collection of the local docker repositories
// (POST /registry/gc, admin): abandoned uploads, then blobs no manifest
// references that were not touched during the grace period. The run is
// recorded, as the dashboard's, so that the dashboard shows its result.
func (a *App) registryGC(c *fiber.Ctx) error {
	if a.Local == nil {
		return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": "local docker repositories are disabled"})
	}
	run, err := a.Local.RunGC(c.UserContext(), "api")
	if err != nil {
		a.log.Error("registry garbage collection failed", "err", err)
		return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "garbage collection failed; see the log"})
	}
	return c.JSON(localrepo.GCReport{Uploads: int(run.Uploads), Blobs: int(run.Blobs), Bytes: run.Bytes})
}
