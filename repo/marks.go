package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// Private marks (doc/design.md §15.6a, doc/protocol.md §6.5.2).
//
// A contributor's full push to its aggregator (fed push --private-weights
// --aggregator AGG) marks the weights it sends private to AGG's server.
// Whoever fetches them from there learns it from the fetch plan and lists
// them in .fed/private, one line per weight object and remote it may go
// to: "<64 lowercase hex id> <remote URL>\n", sorted. Every later push
// to a remote with another URL withholds them, as a private push would
// (commitments and proofs go, weights stay), unless released
// (transfer.PushOptions.ReleaseWeights).

// marksFile lists weight objects fetched as private.
const marksFile = "private"

// PrivateMarks returns .fed/private: by weight object, the URLs of the
// remotes it may be pushed to (those it was fetched from as private).
func (r *Repo) PrivateMarks() (map[objects.ID][]string, error) {
	if r.Dir == "" {
		return map[objects.ID][]string{}, nil // a hosted repository keeps no marks here
	}
	path := filepath.Join(r.Dir, marksFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[objects.ID][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read private marks: %w", err)
	}
	out := map[objects.ID][]string{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		hex, url, ok := strings.Cut(line, " ")
		id, err := objects.ParseID(hex)
		if !ok || err != nil || url == "" {
			return nil, fmt.Errorf("private marks %s line %d: want \"<hex id> <remote URL>\"", path, i+1)
		}
		out[id] = append(out[id], url)
	}
	return out, nil
}

// AddPrivateMarks records ids as private to the remote at url.
func (r *Repo) AddPrivateMarks(ids []objects.ID, url string) error {
	if len(ids) == 0 {
		return nil
	}
	if r.Dir == "" {
		return fmt.Errorf("mark weights private in %s: %w", r.hosted, errNoDir)
	}
	marks, err := r.PrivateMarks()
	if err != nil {
		return err
	}
	var lines []string
	for id, urls := range marks {
		for _, u := range urls {
			lines = append(lines, id.String()+" "+u)
		}
	}
	for _, id := range ids {
		lines = append(lines, id.String()+" "+url)
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return fsys.WriteFile(filepath.Join(r.Dir, marksFile), 0o644, []byte(strings.Join(lines, "\n")+"\n"))
}

// PrivateTo returns the weight objects a push to the remote at url must
// withhold because they were fetched as private to another remote.
func (r *Repo) PrivateTo(url string) (map[objects.ID]bool, error) {
	marks, err := r.PrivateMarks()
	if err != nil {
		return nil, err
	}
	out := map[objects.ID]bool{}
	for id, urls := range marks {
		if !slices.Contains(urls, url) {
			out[id] = true
		}
	}
	return out, nil
}
