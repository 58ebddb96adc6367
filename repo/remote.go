package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Remotes and the lists sync keeps in .fed (package transfer pushes,
// fetches, pulls and clones).
//
// A remote is the config key remote.<name>.url in .fed/config. Fetch
// mirrors the remote's branches into refs/remotes/<name>/<branch> (and
// creates its tags locally when absent); push moves one branch on the
// server and then the matching remote-tracking ref.
//
// Shallow clones: a clone with Depth N holds the last N commits of the
// branch with their trees; the commits whose parents it lacks are listed
// in .fed/shallow, one lowercase hex id per line, sorted. History walks
// (log, fsck, gc, ancestry checks) must treat those commits as having no
// parents. Later fetches do not deepen a shallow repository.

// ErrNoRemote reports a remote name that is not configured.
var ErrNoRemote = errors.New("repo: no such remote")

// DefaultRemote is the remote push, fetch and pull use when none is
// named, and the name clone gives its remote (package transfer).
const DefaultRemote = "origin"

// shallowFile lists the commits of a shallow repository whose parents are
// absent.
const shallowFile = "shallow"

// Remote is a configured remote.
type Remote struct {
	Name string
	URL  string
}

func validRemoteName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\ \t\n\".") || refs.ValidateName(string(refs.Remote(name, "x"))) != nil {
		return fmt.Errorf("invalid remote name %q", name)
	}
	return nil
}

// RemoteAdd configures a remote named name at url
// (http(s)://host[:port]/<repository>).
func (r *Repo) RemoteAdd(name, url string) error {
	if err := validRemoteName(name); err != nil {
		return err
	}
	if _, _, err := remote.ParseURL(url); err != nil {
		return err
	}
	if _, ok := r.Config.Get("remote." + name + ".url"); ok && slices.Contains(r.Config.Subsections("remote"), name) {
		return fmt.Errorf("remote %s already exists", name)
	}
	if err := r.Config.Set("remote."+name+".url", url); err != nil {
		return err
	}
	return r.Config.Save()
}

// RemoteRemove deletes a remote, its remote-tracking refs and the signed
// settings fetched from it.
func (r *Repo) RemoteRemove(name string) error {
	if _, err := r.RemoteURL(name); err != nil {
		return err
	}
	tracking, err := r.Refs.List(string(refs.RemotesPrefix) + name + "/")
	if err != nil {
		return err
	}
	var ups []refs.Update
	for _, t := range tracking {
		ups = append(ups, refs.Update{Name: t.Name, Force: true})
	}
	// and its signed settings: a remote added again under the name may
	// be another repository
	if _, err := r.Refs.Read(SettingsRef(name)); err == nil {
		ups = append(ups, refs.Update{Name: SettingsRef(name), Force: true})
	}
	if err := r.Refs.Transaction(ups, r.entry("remote: removed "+name)); err != nil {
		return err
	}
	r.Config.RemoveSubsection("remote", name)
	return r.Config.Save()
}

// Remotes lists the configured remotes by name.
func (r *Repo) Remotes() ([]Remote, error) {
	var out []Remote
	for _, n := range r.Config.Subsections("remote") {
		if u, ok := r.Config.Get("remote." + n + ".url"); ok {
			out = append(out, Remote{Name: n, URL: u})
		}
	}
	return out, nil
}

// RemoteURL returns the URL of the remote name (DefaultRemote when
// empty); an unknown name gives ErrNoRemote, with a hint to add it.
func (r *Repo) RemoteURL(name string) (string, error) {
	if name == "" {
		name = DefaultRemote
	}
	if slices.Contains(r.Config.Subsections("remote"), name) {
		if u, ok := r.Config.Get("remote." + name + ".url"); ok {
			return u, nil
		}
	}
	if strings.Contains(name, "://") {
		return "", fmt.Errorf("%w: %s is a URL, not a remote's name (name it with: fed remote add NAME %s)", ErrNoRemote, name, name)
	}
	return "", fmt.Errorf("%w: %s (add it with: fed remote add %s URL)", ErrNoRemote, name, name)
}

// Client returns a protocol client for remote name, with the
// repository's key and progress unless opts set others.
func (r *Repo) Client(name string, opts remote.Options) (*remote.Client, error) {
	url, err := r.RemoteURL(name)
	if err != nil {
		return nil, err
	}
	if opts.Key == nil {
		opts.Key = r.Key
	}
	if opts.Progress == nil {
		opts.Progress = r.Progress
	}
	return remote.New(url, opts)
}

// Shallow returns the commits listed in .fed/shallow: present, with
// their trees, but without their parents.
func (r *Repo) Shallow() (map[objects.ID]bool, error) {
	return r.readIDSet(shallowFile, "shallow list")
}

// readIDSet reads a file of .fed holding one hex id per line (absent:
// empty).
func (r *Repo) readIDSet(name, what string) (map[objects.ID]bool, error) {
	if r.Dir == "" {
		return map[objects.ID]bool{}, nil // a hosted repository keeps no list here
	}
	path := filepath.Join(r.Dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[objects.ID]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	out := map[objects.ID]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		id, err := objects.ParseID(line)
		if err != nil {
			return nil, fmt.Errorf("%s %s line %d: %w (one hex object id per line)", what, path, i+1, err)
		}
		out[id] = true
	}
	return out, nil
}

// addIDs adds ids to such a file (sorted, replaced atomically).
func (r *Repo) addIDs(name string, ids []objects.ID) error {
	if len(ids) == 0 {
		return nil
	}
	cur, err := r.readIDSet(name, "list")
	if err != nil {
		return err
	}
	n := len(cur)
	for _, id := range ids {
		cur[id] = true
	}
	if len(cur) == n {
		return nil
	}
	return r.writeIDs(name, slices.Collect(maps.Keys(cur)))
}

// writeIDs replaces such a file with ids (sorted, without repeats,
// atomically); none removes it.
func (r *Repo) writeIDs(name string, ids []objects.ID) error {
	if r.Dir == "" {
		return fmt.Errorf("write %s list of %s: %w", name, r.hosted, errNoDir)
	}
	path := filepath.Join(r.Dir, name)
	if len(ids) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	lines := make([]string, 0, len(ids))
	for _, id := range ids {
		lines = append(lines, id.String())
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return fsys.WriteFile(path, 0o644, []byte(strings.Join(lines, "\n")+"\n"))
}

// AddShallow adds ids to the shallow list: commits present with their
// trees but without their parents (a fetch with a depth writes them
// before the refs that reach them).
func (r *Repo) AddShallow(ids []objects.ID) error {
	return r.addIDs(shallowFile, ids)
}

// SetShallow replaces the shallow list with ids; none removes it (the
// repository then holds its whole history).
func (r *Repo) SetShallow(ids []objects.ID) error { return r.writeIDs(shallowFile, ids) }
