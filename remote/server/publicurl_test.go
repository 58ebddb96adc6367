package server

import "testing"

func TestParsePublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://fed.example.org":      "https://fed.example.org",
		"https://Fed.Example.org/":     "https://fed.example.org",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"HTTPS://[::1]:8443":           "https://[::1]:8443",
		"https://fed.example.org:443/": "https://fed.example.org:443",
	} {
		if got, err := ParsePublicURL(in); err != nil || got != want {
			t.Errorf("ParsePublicURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fed.example.org", "ftp://fed.example.org", "https://", "https://:443",
		"https://fed.example.org/fed", "https://fed.example.org/?a=1", "https://fed.example.org/#top",
		"https://user:pw@fed.example.org", "https://fed example.org", "mailto:a@b"} {
		if got, err := ParsePublicURL(bad); err == nil {
			t.Errorf("ParsePublicURL(%q) = %q, want an error", bad, got)
		}
	}
}
