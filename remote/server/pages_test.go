package server

import "testing"

// Pages are logged and counted under a bounded set of routes, with the
// repository they show.
func TestPageRoute(t *testing.T) {
	for _, c := range []struct{ path, route, repo string }{
		{"/", "page:/", ""},
		{"/lab/model", "page:/{repo}", "lab/model"},
		{"/lab/model/", "page:/{repo}", "lab/model"},
		{"/lab/model/-/commit/abc", "page:/{repo}/-/commit/{id}", "lab/model"},
		{"/lab/model/-/rounds", "page:/{repo}/-/rounds", "lab/model"},
		{"/lab/model/-/rounds/feature/x", "page:/{repo}/-/rounds", "lab/model"},
		{"/lab/model/-/compare", "page:/{repo}/-/compare", "lab/model"},
		{"/lab/model/-/nft.json", "page:/{repo}/-/nft.json", "lab/model"},
		{"/lab/model/-/nft/v1.0.json", "page:/{repo}/-/nft/{tag}.json", "lab/model"},
		{"/lab/model/-/card.svg", "page:/{repo}/-/card.svg", "lab/model"},
		{"/lab/model/-/other.json", "page:other", "lab/model"},
		{"/lab/.hidden", "page:other", ""},
	} {
		if route, repo := pageRoute(c.path); route != c.route || repo != c.repo {
			t.Errorf("pageRoute(%q) = %q, %q; want %q, %q", c.path, route, repo, c.route, c.repo)
		}
	}
}
