package upstream

import "testing"

func TestParseChallenge(t *testing.T) {
	cases := []struct {
		name, h                       string
		scheme, realm, service, scope string
	}{
		{name: "docker hub", h: `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`,
			scheme: "bearer", realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/nginx:pull"},
		{name: "quoted comma in scope", h: `Bearer realm="https://a/token",scope="repository:x:pull,push",service="s"`,
			scheme: "bearer", realm: "https://a/token", service: "s", scope: "repository:x:pull,push"},
		{name: "escaped quote and spaces", h: `Bearer  realm="https://a/t\"x" , service=plain`,
			scheme: "bearer", realm: `https://a/t"x`, service: "plain"},
		{name: "basic", h: `Basic realm="registry"`, scheme: "basic", realm: "registry"},
	}
	for _, c := range cases {
		ch, ok := ParseChallenge(c.h)
		if !ok || ch.Scheme != c.scheme || ch.Realm != c.realm || ch.Service != c.service || ch.Scope != c.scope {
			t.Errorf("%s: got %+v", c.name, ch)
		}
	}
	if _, ok := ParseChallenge(""); ok {
		t.Error("empty header parsed")
	}
}
