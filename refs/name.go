package refs

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadName reports a ref name that breaks the naming rules (see ValidateName).
var ErrBadName = errors.New("refs: invalid ref name")

// MaxNameLen is the longest ref name accepted, in bytes.
const MaxNameLen = 1024

// Name is a full ref name such as "refs/heads/main", "refs/tags/v1",
// "refs/remotes/origin/main" or a top-level pseudo-ref such as "HEAD" or
// "MERGE_HEAD". Names use '/' on every platform.
type Name string

// HeadName is the name of the HEAD ref.
const HeadName Name = "HEAD"

// Well-known name prefixes.
const (
	HeadsPrefix   = "refs/heads/"
	TagsPrefix    = "refs/tags/"
	RemotesPrefix = "refs/remotes/"
)

// Branch returns the full name of the local branch short: "refs/heads/<short>".
func Branch(short string) Name { return Name(HeadsPrefix + short) }

// Tag returns the full name of the tag short: "refs/tags/<short>".
func Tag(short string) Name { return Name(TagsPrefix + short) }

// Remote returns the full name of the remote-tracking branch
// "refs/remotes/<remote>/<branch>".
func Remote(remote, branch string) Name { return Name(RemotesPrefix + remote + "/" + branch) }

// String returns the full name.
func (n Name) String() string { return string(n) }

// Short returns the name as people type it: "main" for "refs/heads/main",
// "v1" for "refs/tags/v1", "origin/main" for "refs/remotes/origin/main".
// Any other name is returned whole.
func (n Name) Short() string {
	s := string(n)
	for _, p := range []string{HeadsPrefix, TagsPrefix, RemotesPrefix} {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return s[len(p):]
		}
	}
	return s
}

// IsBranch reports whether n is under refs/heads/.
func (n Name) IsBranch() bool { return strings.HasPrefix(string(n), HeadsPrefix) }

// isPseudo reports whether n has the syntax of a top-level pseudo-ref:
// an upper-case letter followed by upper-case letters and underscores
// ("HEAD", "MERGE_HEAD", "ORIG_HEAD").
func isPseudo(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateName checks a full ref name. A name is either a pseudo-ref
// (upper-case letters and underscores, such as "HEAD" or "MERGE_HEAD") or
// starts with "refs/" and has at least one more component, and it obeys the
// rules of git check-ref-format:
//   - at most MaxNameLen bytes;
//   - no control characters (below 0x20, or 0x7f), space, '~', '^', ':',
//     '?', '*', '[' or '\';
//   - no "..", no "@{", and not the single character "@";
//   - no empty component: no leading or trailing '/', no "//";
//   - no component starts with '.' or ends with ".lock";
//   - the name does not end with '.'.
//
// The returned error wraps ErrBadName and says which rule was broken.
func ValidateName(name string) error {
	reason := checkName(name)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrBadName, name, reason)
}

func checkName(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	case name == "@":
		return `is "@"`
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Sprintf("control character 0x%02x at byte %d", c, i)
		}
		switch c {
		case ' ', '~', '^', ':', '?', '*', '[', '\\':
			return fmt.Sprintf("forbidden character %q at byte %d", c, i)
		}
	}
	switch {
	case strings.Contains(name, ".."):
		return `contains ".."`
	case strings.Contains(name, "@{"):
		return `contains "@{"`
	case strings.HasPrefix(name, "/"):
		return `starts with "/"`
	case strings.HasSuffix(name, "/"):
		return `ends with "/"`
	case strings.Contains(name, "//"):
		return `contains "//"`
	case strings.HasSuffix(name, "."):
		return `ends with "."`
	}
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, ".") {
			return fmt.Sprintf("component %q starts with \".\"", c)
		}
		if strings.HasSuffix(c, ".lock") {
			return fmt.Sprintf("component %q ends with \".lock\"", c)
		}
	}
	if isPseudo(name) {
		return ""
	}
	if !strings.HasPrefix(name, "refs/") || len(name) == len("refs/") {
		return `neither "refs/<name>" nor an upper-case pseudo-ref such as "HEAD"`
	}
	return ""
}
