package remote

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// Signed settings (doc/protocol.md §6.8.1, doc/design.md §15.6).
//
// The zk settings of a repository travel with its history as a settings
// commit named by SettingsRef: a commit object whose tree is the empty
// tree, with at most one parent (the settings it replaces), the message
// SettingsMessage, and metadata SettingsVersionKey=1 plus one entry per
// zk setting that is set (keys of ZKSettingKeys). Its author is the
// repository's owner, who signs it like any commit, so a server that
// hands out settings can drop them but not forge or weaken them.

// SettingsRef names a repository's signed settings commit on a server.
const SettingsRef = "refs/meta/settings"

// Settings commit fields.
const (
	SettingsMessage    = "fed settings\n"
	SettingsVersionKey = "fed.settings"
	SettingsVersion    = "1"
)

// ErrBadSettings reports a settings commit that is malformed, unsigned or
// not signed by the repository's owner.
var ErrBadSettings = errors.New("remote: bad signed settings")

// EmptyTree is the empty tree object every settings commit names.
func EmptyTree() (objects.ID, []byte) {
	b, err := objects.Encode(&objects.Tree{})
	if err != nil {
		panic(err) // an empty tree always encodes
	}
	return objects.Sum(b), b
}

// NewSettingsCommit returns the unsigned settings commit holding zk (keys
// of ZKSettingKeys; empty values are left out) that replaces parent (zero:
// none), made at unix time t.
func NewSettingsCommit(zk map[string]string, parent objects.ID, t int64) *objects.Commit {
	tree, _ := EmptyTree()
	c := &objects.Commit{Tree: tree, Time: t, Message: SettingsMessage}
	if !parent.IsZero() {
		c.Parents = []objects.ID{parent}
	}
	meta := []objects.KV{{Key: SettingsVersionKey, Value: SettingsVersion}}
	for _, k := range ZKSettingKeys {
		if v := zk[k]; v != "" {
			meta = append(meta, objects.KV{Key: k, Value: v})
		}
	}
	c.Meta = objects.SortKV(meta)
	return c
}

// ParseSettingsCommit checks that c is a well-formed settings commit
// signed by its author and returns its zk settings. It does not check who
// the author is: callers compare c.Author with the owner they know.
func ParseSettingsCommit(c *objects.Commit) (map[string]string, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSettings, fmt.Sprintf(format, args...))
	}
	tree, _ := EmptyTree()
	switch {
	case c.Tree != tree:
		return nil, fail("its tree is not the empty tree")
	case len(c.Parents) > 1:
		return nil, fail("%d parents (at most 1)", len(c.Parents))
	case c.Message != SettingsMessage:
		return nil, fail("message %q, want %q", c.Message, SettingsMessage)
	}
	v, ok := c.Value(SettingsVersionKey)
	if !ok {
		return nil, fail("no %s", SettingsVersionKey)
	}
	if v != SettingsVersion {
		return nil, fail("version %q (this fed knows %s; a newer fed release wrote it)", v, SettingsVersion)
	}
	zk := map[string]string{}
	for _, kv := range c.Meta {
		if kv.Key == SettingsVersionKey {
			continue
		}
		if !slices.Contains(ZKSettingKeys, kv.Key) {
			return nil, fail("key %q is not a zk setting (want one of %s)", kv.Key, strings.Join(ZKSettingKeys, ", "))
		}
		if err := CheckZKSetting(kv.Key, kv.Value); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSettings, err)
		}
		zk[kv.Key] = kv.Value
	}
	if err := objects.VerifyCommit(c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSettings, err)
	}
	return zk, nil
}

// CheckZKSetting checks the form of one zk setting's value: zk.chunk a
// positive multiple of 8, zk.linf and zk.l2 non-negative numbers, zk.vk
// object ids separated by commas or spaces. Clients check ranges further.
func CheckZKSetting(key, value string) error {
	if value == "" || len(value) > 1024 {
		return fmt.Errorf("%s: value of %d bytes", key, len(value))
	}
	switch key {
	case "zk.chunk":
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 || n%8 != 0 {
			return fmt.Errorf("%s %q: want a positive multiple of 8", key, value)
		}
	case "zk.linf", "zk.l2":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || !(f >= 0) || f > 1e300 {
			return fmt.Errorf("%s %q: want a non-negative number", key, value)
		}
	case "zk.vk":
		ids := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' })
		if len(ids) == 0 {
			return fmt.Errorf("%s %q: want verifying key ids", key, value)
		}
		for _, f := range ids {
			if _, err := objects.ParseID(f); err != nil {
				return fmt.Errorf("%s %q: %w", key, f, err)
			}
		}
	default:
		return fmt.Errorf("%q is not a zk setting", key)
	}
	return nil
}
