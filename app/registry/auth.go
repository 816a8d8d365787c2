package registry

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/config"
	"artifactapi/app/httpserve"
)

// Push credentials and the token flow.
//
// docker, podman and skopeo decide whether to send credentials from the
// answer to GET /v2/: a 200 means "no authentication", and they never send
// the credentials given to `docker login` or --dest-creds, so a push is
// refused. When local docker repositories are configured, /v2/ therefore
// challenges clients that present nothing, with a Bearer challenge whose
// token service (GET /v2/token) gives every client an anonymous token (reads
// stay open: dockerd mirrors and anonymous pulls keep working), and gives a
// client that authenticates with the admin credential (Basic, any user) the
// credential itself, which every push request then carries. Pushes refused
// for want of it get the same challenge with the push scope. Without local
// docker repositories /v2/ answers 200 to everyone, as before.

// anonymousToken is the token of clients without credentials: it grants
// nothing reads do not already allow.
const anonymousToken = "anonymous"

// tokenPath is the token service below /v2.
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

// ping answers GET /v2/: 200, or 401 with the challenge when local docker
// repositories exist and the client presents no credential (a wrong one is
// 401 too; the anonymous token is accepted).
func (h *Handler) ping(c *fiber.Ctx, acc *httpserve.Access, fail func(*Error) error) error {
	if h.d.Local != nil && hasLocalDocker(h.d.Config().Remotes) {
		auth := c.Get(fiber.HeaderAuthorization)
		if !strings.EqualFold(strings.TrimSpace(auth), "bearer "+anonymousToken) {
			if e := h.authorize(c); e != nil {
				err := fail(e)
				c.Set(fiber.HeaderWWWAuthenticate, challenge(c, "")) // after fail: writeError sets Basic
				return err
			}
		}
	}
	acc.Status = http.StatusOK
	acc.Finish(0, nil)
	return c.Status(http.StatusOK).JSON(fiber.Map{})
}

// token answers GET /v2/token (the realm of the challenge): the admin
// credential for a client authenticating with it, else the anonymous token.
// A wrong credential is 401 (and counts against the client's address).
func (h *Handler) token(c *fiber.Ctx, acc *httpserve.Access, fail func(*Error) error) error {
	tok := anonymousToken
	if c.Get(fiber.HeaderAuthorization) != "" {
		if e := h.authorize(c); e != nil {
			return fail(e)
		}
		tok = adminToken(c.Get(fiber.HeaderAuthorization))
	}
	acc.Status = http.StatusOK
	acc.Finish(0, nil)
	c.Set("Cache-Control", "no-store")
	return c.Status(http.StatusOK).JSON(fiber.Map{"token": tok, "access_token": tok, "expires_in": 3600})
}

// adminToken extracts the credential of an Authorization header that
// authorize accepted: a Bearer token or a Basic password.
func adminToken(auth string) string {
	auth = strings.TrimSpace(auth)
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	if len(auth) > 6 && strings.EqualFold(auth[:6], "basic ") {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
		if err == nil {
			if _, pass, ok := strings.Cut(string(raw), ":"); ok {
				return pass
			}
		}
	}
	return ""
}
