package registry

import (
	"github.com/gofiber/fiber/v2"

	"artifactapi/app/config"
)

// Push credentials and the token flow.
//
// docker, podman and skopeo decide whether to send credentials from the
// answer to GET /v2/: a 200 means "no authentication", and they never send
// the credentials given to `docker login` or --dest-creds. When local docker
// repositories (or non-public docker remotes) are configured, /v2/
// therefore challenges clients that present nothing, with a Bearer
// challenge whose token service (GET /v2/token, package api) gives every
// client a signed token naming its principal — an anonymous one without
// credentials, so reads of public remotes stay open. Pushes refused for want
// of the write scope get the same challenge with the push scope.

// tokenPath is the token service below /v2 (served by the api package).
const tokenPath = "/token"

// hasLocalDocker reports whether a local docker repository is configured.
func hasLocalDocker(f *config.File) bool {
	for _, r := range f.Remotes {
		if r != nil && r.IsLocal() && r.Package == config.PackageDocker {
			return true
		}
	}
	return false
}

// challenge is the WWW-Authenticate of a push without the credential.
func challenge(c *fiber.Ctx, scope string) string {
	v := `Bearer realm="` + c.Protocol() + "://" + c.Hostname() + "/v2" + tokenPath + `",service="artifactapi"`
	if scope != "" {
		v += `,scope="` + scope + `"`
	}
	return v
}
