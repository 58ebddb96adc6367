package s3store

import "testing"

func TestParseURL(t *testing.T) {
	good := []struct{ in, bucket, prefix string }{
		{"s3://fed", "fed", ""},
		{"s3://fed/", "fed", ""},
		{"s3://fed-prod.eu/repos", "fed-prod.eu", "repos/"},
		{"s3://fed/a/b/", "fed", "a/b/"},
	}
	for _, g := range good {
		b, p, err := ParseURL(g.in)
		if err != nil || b != g.bucket || p != g.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", g.in, b, p, err, g.bucket, g.prefix)
		}
	}
	for _, bad := range []string{"", "fed", "http://fed/x", "s3://", "s3://ab", "s3://Fed", "s3://-fed", "s3://fed-", "s3://fe_d",
		"s3://fed//x", "s3://fed/a/../b", "s3://fed/./a", "s3://fed/a?b", "s3://fed/a\nb"} {
		if b, p, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = %q, %q, want an error", bad, b, p)
		}
	}
}
