package server

import (
	"fmt"
	"net/url"
	"strings"
)

// ParsePublicURL checks the URL visitors reach a server by (fed serve
// --public-url, behind a reverse proxy) and returns its origin,
// scheme://host[:port], lower case, without a trailing slash: http or
// https, a host, and nothing after it but an optional "/" (pages are
// served from the root, so a path prefix could not be honoured).
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("public URL %q: want an http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("public URL %q: no host", s)
	case u.User != nil:
		return "", fmt.Errorf("public URL %q: no user name or password, please", s)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("public URL %q: want scheme://host[:port] only (pages are served from the root of the host; no path, query or fragment)", s)
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}
