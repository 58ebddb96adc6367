package server_test

import (
	"strings"
	"testing"

	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// A sign-in text names the URI visitors reach the server by: behind a
// TLS-terminating proxy (--public-url https://…, requests arriving over
// plain HTTP) the https URL, not the request's http.
func TestSignInURI(t *testing.T) {
	k := keyN(1)
	for _, c := range []struct {
		name   string
		opts   server.Options
		want   string
		domain string
	}{
		{"behind a proxy", server.Options{Domain: "models.example", PublicURL: "https://models.example"}, "URI: https://models.example\n", "models.example"},
		{"public URL of another host", server.Options{Domain: "models.example", PublicURL: "https://cdn.example"}, "URI: http://models.example\n", "models.example"},
		{"no public URL", server.Options{Domain: "models.example"}, "URI: http://models.example\n", "models.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newServer(t, c.opts)
			var ch remote.Challenge
			if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login/challenge", "", remote.ChallengeRequest{Address: k.Public().String()}, &ch); st != 200 {
				t.Fatalf("challenge: %d %v", st, p)
			}
			if !strings.Contains(ch.Message, c.want) || !strings.HasPrefix(ch.Message, c.domain+" wants you to sign in") {
				t.Errorf("sign-in text:\n%s\nwant %q", ch.Message, c.want)
			}
		})
	}
}
