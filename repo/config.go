package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
)

// Config is a git-config file (".fed/config"), layered over the user's
// file (~/.config/fed/config, or $FED_CONFIG). Keys are written
// "section.key" or "section.subsection.key", like git.
type Config struct {
	path string
	repo *gitconfig.Config
	user *gitconfig.Config
}

func newConfig(path string) *Config {
	return &Config{path: path, repo: gitconfig.New(), user: gitconfig.New()}
}

func readGitConfig(path string) (*gitconfig.Config, error) {
	c := gitconfig.New()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if err := gitconfig.NewDecoder(bytes.NewReader(b)).Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// loadConfig reads the repository's config file path and beneath it the
// user's, userPath ("" for none).
func loadConfig(path, userPath string) (*Config, error) {
	rc, err := readGitConfig(path)
	if err != nil {
		return nil, err
	}
	uc, err := readGitConfig(userPath)
	if err != nil {
		return nil, err
	}
	return &Config{path: path, repo: rc, user: uc}, nil
}

// LoadUserConfig reads only the user's config file, path (outside a
// repository; the caller finds the file, see Options.UserConfig).
func LoadUserConfig(path string) (*Config, error) {
	p := path
	uc, err := readGitConfig(p)
	if err != nil {
		return nil, err
	}
	return &Config{path: p, repo: uc, user: gitconfig.New()}, nil
}

// splitKey splits "a.b.c" into section a, subsection b, key c.
func splitKey(key string) (section, sub, name string, err error) {
	i := strings.Index(key, ".")
	j := strings.LastIndex(key, ".")
	if i <= 0 || j == len(key)-1 {
		return "", "", "", fmt.Errorf("config key %q: want section.key or section.subsection.key", key)
	}
	section, name = key[:i], key[j+1:]
	if i != j {
		sub = key[i+1 : j]
	}
	return strings.ToLower(section), sub, strings.ToLower(name), nil
}

func lookup(c *gitconfig.Config, section, sub, name string) (string, bool) {
	if !c.HasSection(section) {
		return "", false
	}
	s := c.Section(section)
	var opts gitconfig.Options
	if sub == "" {
		opts = s.Options
	} else {
		if !s.HasSubsection(sub) {
			return "", false
		}
		opts = s.Subsection(sub).Options
	}
	val, found := "", false
	for _, o := range opts {
		if strings.EqualFold(o.Key, name) {
			val, found = o.Value, true // the last one wins, like git
		}
	}
	return val, found
}

// Get returns the value of key: from the repository file, else the user's.
func (c *Config) Get(key string) (string, bool) {
	section, sub, name, err := splitKey(key)
	if err != nil {
		return "", false
	}
	if v, ok := lookup(c.repo, section, sub, name); ok {
		return v, true
	}
	return lookup(c.user, section, sub, name)
}

// keyChecks holds, per section, the check of values set in it.
var keyChecks = map[string]func(key, value string) error{}

// RegisterKeyCheck makes Set refuse a value for a key of section
// ("section.name" or "section.sub.name") that check refuses, so that a bad
// setting fails when it is set rather than at every later command that
// reads it. The package that reads the section registers it in an init
// function (proving: zk). It is not safe to call concurrently with Set.
func RegisterKeyCheck(section string, check func(key, value string) error) {
	keyChecks[section] = check
}

// Set sets key in the repository file (not yet saved); a section with a
// registered check (RegisterKeyCheck) refuses the values it refuses.
func (c *Config) Set(key, value string) error {
	section, sub, name, err := splitKey(key)
	if err != nil {
		return err
	}
	if check := keyChecks[section]; check != nil {
		k := section + "." + name
		if sub != "" {
			k = key
		}
		if err := check(k, value); err != nil {
			return err
		}
	}
	c.repo.SetOption(section, sub, name, value)
	return nil
}

// Unset removes key from the repository file (not yet saved).
func (c *Config) Unset(key string) error {
	section, sub, name, err := splitKey(key)
	if err != nil {
		return err
	}
	if !c.repo.HasSection(section) {
		return nil
	}
	s := c.repo.Section(section)
	if sub == "" {
		s.RemoveOption(name)
	} else if s.HasSubsection(sub) {
		s.Subsection(sub).RemoveOption(name)
	}
	return nil
}

// Subsections lists the subsections of section in the repository file,
// e.g. the names of remotes.
func (c *Config) Subsections(section string) []string {
	var out []string
	if c.repo.HasSection(section) {
		for _, s := range c.repo.Section(section).Subsections {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// RemoveSubsection deletes section.sub from the repository file.
func (c *Config) RemoveSubsection(section, sub string) {
	if c.repo.HasSection(section) {
		c.repo.Section(section).RemoveSubsection(sub)
	}
}

// All lists every key=value of both files, repository values last.
func (c *Config) All() []string {
	var out []string
	for _, cfg := range []*gitconfig.Config{c.user, c.repo} {
		for _, s := range cfg.Sections {
			for _, o := range s.Options {
				out = append(out, s.Name+"."+o.Key+"="+o.Value)
			}
			for _, ss := range s.Subsections {
				for _, o := range ss.Options {
					out = append(out, s.Name+"."+ss.Name+"."+o.Key+"="+o.Value)
				}
			}
		}
	}
	return out
}

// Save writes the repository file atomically.
func (c *Config) Save() error {
	if c.path == "" {
		return fmt.Errorf("save config: it has no file (a hosted repository's settings are kept by its server): %w", errors.ErrUnsupported)
	}
	var buf bytes.Buffer
	if err := gitconfig.NewEncoder(&buf).Encode(c.repo); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return fsys.WriteFile(c.path, 0o644, buf.Bytes())
}
