package api

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
)

// RegistryService is the service name of the /v2 bearer challenge.
const RegistryService = "artifactapi"

// TokenPath is the registry's token endpoint (the realm of the challenge).
const TokenPath = "/v2/token"

// RegistryChallenge is the WWW-Authenticate of a /v2 401: the standard
// bearer challenge docker, containerd, podman, skopeo and crane follow to
// TokenPath. scope may be "".
func RegistryChallenge(c *fiber.Ctx, scope string) string {
	v := `Bearer realm="` + c.BaseURL() + TokenPath + `",service="` + RegistryService + `"`
	if scope != "" {
		v += `,scope="` + strings.ReplaceAll(scope, `"`, "") + `"`
	}
	return v
}

// RegistryToken answers GET /v2/token (Basic credentials: user + password,
// user + API token, or ADMIN_TOKEN; none for an anonymous token) and the
// OAuth2 form POST containerd tries first (grant_type=password). The
// answer is {token, access_token, expires_in, issued_at}: a short-lived
// signed bearer token naming the principal.
func (h *Handler) RegistryToken(c *fiber.Ctx) error {
	c.Set("Docker-Distribution-API-Version", "registry/2.0")
	c.Set(fiber.HeaderCacheControl, "no-store")
	var who *auth.Principal
	var err error
	switch c.Method() {
	case http.MethodGet:
		// Some clients send Basic with an empty user and password when they
		// have no credentials: that asks for an anonymous token.
		if !emptyBasic(c.Get(fiber.HeaderAuthorization)) {
			who, err = h.d.Admin.Principal(c)
		}
	case http.MethodPost:
		if c.FormValue("grant_type") != "password" {
			return c.Status(http.StatusBadRequest).JSON(fiber.Map{"error": "unsupported_grant_type"})
		}
		who, err = h.d.Admin.login(c, c.FormValue("username"), c.FormValue("password"))
	default:
		return Fail(http.StatusMethodNotAllowed, "method not allowed")
	}
	if err != nil {
		if st, _ := StatusOf(err); st == http.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="`+RegistryService+`"`)
			h.d.Admin.Record(c, nil, auth.Event{Action: auth.ActLogin, Target: "registry", Outcome: auth.OutcomeFailed, Detail: "/v2/token"})
		}
		return err
	}
	tok, ttl := h.d.Auth.IssueRegistryToken(who)
	return c.JSON(fiber.Map{"token": tok, "access_token": tok, "expires_in": int(ttl / time.Second),
		"issued_at": time.Now().UTC().Format(time.RFC3339)})
}

// emptyBasic reports a Basic credential with an empty user and password.
func emptyBasic(hdr string) bool {
	hdr = strings.TrimSpace(hdr)
	if len(hdr) < 6 || !strings.EqualFold(hdr[:6], "basic ") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(hdr[6:]))
	return err == nil && string(raw) == ":"
}

// login checks a user name and secret given outside the Authorization
// header (forms), with the same throttling as Principal.
func (a *Admin) login(c *fiber.Ctx, user, secret string) (*auth.Principal, error) {
	ip := c.IP()
	if wait := a.guesses.Take(ip); wait > 0 {
		return nil, TooManyGuesses(wait)
	}
	p, err := a.auth.Basic(c.UserContext(), user, secret)
	if err != nil {
		return nil, a.credentialError(err)
	}
	a.guesses.Refund(ip)
	return p, nil
}
