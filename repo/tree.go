package repo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/fed-vcs/fed/objects"
)

// TreeFile is a file of a flattened tree.
type TreeFile struct {
	Mode uint32
	Kind objects.Kind
	ID   objects.ID
}

// Files flattens tree id into repository paths.
func (r *Repo) Files(ctx context.Context, tree objects.ID) (map[string]TreeFile, error) {
	out := map[string]TreeFile{}
	if tree.IsZero() {
		return out, nil
	}
	var walk func(id objects.ID, prefix string, depth int) error
	walk = func(id objects.ID, prefix string, depth int) error {
		if depth > 256 {
			return fmt.Errorf("tree %s nests too deep", id.Short())
		}
		t, err := objects.ReadTree(ctx, r.Objects, id)
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			p := prefix + e.Name
			if e.Kind == objects.KindTree {
				if err := walk(e.ID, p+"/", depth+1); err != nil {
					return err
				}
				continue
			}
			out[p] = TreeFile{Mode: e.Mode, Kind: e.Kind, ID: e.ID}
		}
		return nil
	}
	return out, walk(tree, "", 0)
}

// CommitFiles flattens the tree of commit id (empty for ZeroID).
func (r *Repo) CommitFiles(ctx context.Context, id objects.ID) (map[string]TreeFile, error) {
	if id.IsZero() {
		return map[string]TreeFile{}, nil
	}
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return nil, err
	}
	return r.Files(ctx, c.Tree)
}

// headFiles flattens HEAD's tree.
func (r *Repo) headFiles(ctx context.Context) (map[string]TreeFile, error) {
	h, _, err := r.Head()
	if err != nil {
		return nil, err
	}
	return r.CommitFiles(ctx, h)
}

// writeTree stores the trees for a flat file list (through w, after
// everything already queued) and returns the root tree's id.
func writeTree(w *objects.Writer, files map[string]TreeFile) (objects.ID, error) {
	type dir struct {
		files map[string]TreeFile
		dirs  map[string]*dir
	}
	newDir := func() *dir { return &dir{files: map[string]TreeFile{}, dirs: map[string]*dir{}} }
	root := newDir()
	for p, f := range files {
		if !utf8.ValidString(p) {
			return objects.ZeroID, fmt.Errorf("file %q: name is not valid UTF-8; unstage it with 'fed rm --cached' and rename it", p)
		}
		parts := strings.Split(p, "/")
		d := root
		for _, c := range parts[:len(parts)-1] {
			sub, ok := d.dirs[c]
			if !ok {
				sub = newDir()
				d.dirs[c] = sub
			}
			d = sub
		}
		d.files[parts[len(parts)-1]] = f
	}
	var store func(d *dir) (objects.ID, error)
	store = func(d *dir) (objects.ID, error) {
		t := &objects.Tree{}
		for name, f := range d.files {
			if _, clash := d.dirs[name]; clash {
				return objects.ZeroID, fmt.Errorf("%q is both a file and a directory", name)
			}
			t.Entries = append(t.Entries, objects.TreeEntry{Name: name, Mode: f.Mode, Kind: f.Kind, ID: f.ID})
		}
		for name, sub := range d.dirs {
			id, err := store(sub)
			if err != nil {
				return objects.ZeroID, err
			}
			t.Entries = append(t.Entries, objects.TreeEntry{Name: name, Mode: objects.ModeDir, Kind: objects.KindTree, ID: id})
		}
		sort.Slice(t.Entries, func(i, j int) bool { return t.Entries[i].Name < t.Entries[j].Name })
		return w.Object(t)
	}
	return store(root)
}

// indexFiles returns the stage-0 entries of idx as a flat file list.
func indexFiles(idx *Index) map[string]TreeFile {
	out := make(map[string]TreeFile, len(idx.Entries))
	for _, e := range idx.Entries {
		if e.Stage == 0 {
			out[e.Path] = TreeFile{Mode: e.Mode, Kind: e.Kind, ID: e.ID}
		}
	}
	return out
}

func sameFiles(a, b map[string]TreeFile) bool {
	if len(a) != len(b) {
		return false
	}
	for p, f := range a {
		if g, ok := b[p]; !ok || g != f {
			return false
		}
	}
	return true
}
