package proving

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// prepo is a repository seen by this package: the moved methods keep
// their receiver.
type prepo struct {
	*repo.Repo
	memo *Memo // nil: none
}

// Values quantises the float tensors of commit id of r (zk.Quantize). It
// fails with an error matching objects.ErrNotFound when weights are absent.
func Values(ctx context.Context, r *repo.Repo, id objects.ID) (*zk.Values, error) {
	return prepo{Repo: r}.values(ctx, id)
}

func (r prepo) values(ctx context.Context, id objects.ID) (*zk.Values, error) {
	files, err := r.CommitFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := r.filesValues(ctx, files)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id.Short(), err)
	}
	return v, nil
}

// Root returns the hex commitment root of the weights of r's commit id
// with the repository's chunk size: the value a commit may record as
// repo.MetaZKRoot.
func Root(ctx context.Context, rp *repo.Repo, id objects.ID) (string, error) {
	r := prepo{Repo: rp}
	s, err := ReadSettings(rp)
	if err != nil {
		return "", err
	}
	v, err := r.values(ctx, id)
	if err != nil {
		return "", err
	}
	c, err := zk.Commit(ctx, v, s.ChunkSize)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", c.Root), nil
}

// Enabled reports whether r has zk settings: zk.linf, zk.l2, zk.chunk or
// zk.prove always. Commits of such a repository record their commitment
// root (repo.MetaZKRoot) once RecordRoots is on.
func Enabled(r *repo.Repo) (bool, Settings, error) {
	s, err := ReadSettings(r)
	if err != nil {
		return false, s, err
	}
	return s.Any(), s, nil
}

// RecordRoots makes every new commit of r, when r has zk settings (see
// Enabled, read at each commit), record the hex commitment root of its
// tree as repo.MetaZKRoot before it is signed, so that the signature binds
// the weights to the root a proof commits to, even where the weights are
// withheld. A model outside the provable range (zk.ErrRange) then cannot
// be committed. It installs itself as r.BeforeSign, the hook repo calls
// before signing a commit, chaining any hook already set.
func RecordRoots(rp *repo.Repo) {
	r := prepo{Repo: rp}
	prev := r.BeforeSign
	r.BeforeSign = func(ctx context.Context, c *objects.Commit) error {
		if prev != nil {
			if err := prev(ctx, c); err != nil {
				return err
			}
		}
		on, s, err := Enabled(r.Repo)
		if err != nil || !on {
			return err
		}
		root, err := r.treeRoot(ctx, c.Tree, s.ChunkSize)
		if errors.Is(err, objects.ErrNotFound) {
			// weights withheld from this repository (a clone of private
			// contributions): no root to record, so the commit claims
			// nothing a proof would have to back
			if absent, werr := r.WithheldAbsent(ctx); werr == nil && len(absent) > 0 {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("record %s: %w", repo.MetaZKRoot, err)
		}
		meta := c.Meta[:0:0]
		for _, kv := range c.Meta {
			if kv.Key != repo.MetaZKRoot {
				meta = append(meta, kv)
			}
		}
		c.Meta = append(meta, objects.KV{Key: repo.MetaZKRoot, Value: root})
		return nil
	}
}

// treeRoot is Root for a tree that no commit names yet.
func (r prepo) treeRoot(ctx context.Context, tree objects.ID, chunk int) (string, error) {
	files, err := r.Files(ctx, tree)
	if err != nil {
		return "", err
	}
	v, err := r.filesValues(ctx, files)
	if err != nil {
		return "", err
	}
	c, err := zk.Commit(ctx, v, chunk)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", c.Root), nil
}

// filesValues quantises the float tensors of files (sorted by path,
// then in file order): the values Values commits to.
func (r prepo) filesValues(ctx context.Context, files map[string]repo.TreeFile) (*zk.Values, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	m := &zk.Model{}
	for _, p := range paths {
		f := files[p]
		if f.Kind != objects.KindModel {
			m.Extras = append(m.Extras, zk.Extra{Path: p, ID: f.ID})
			continue
		}
		mo, err := objects.ReadModel(ctx, r.Objects, f.ID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for i, seg := range mo.Segments {
			if !seg.IsTensor() {
				m.Extras = append(m.Extras, zk.Extra{Path: p, Name: "#" + strconv.Itoa(i), ID: seg.ID})
				continue
			}
			t, err := objects.ReadTensor(ctx, r.Objects, seg.ID)
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %s: %w", p, seg.Name, err)
			}
			if !t.DType.IsFloat() {
				m.Extras = append(m.Extras, zk.Extra{Path: p, Name: seg.Name, ID: seg.ID})
				continue
			}
			var buf bytes.Buffer
			buf.Grow(int(t.Size))
			if err := objects.WriteTensorTo(ctx, r.Objects, t, &buf); err != nil {
				return nil, fmt.Errorf("%s: tensor %s: %w", p, seg.Name, err)
			}
			m.Tensors = append(m.Tensors, zk.Tensor{Path: p, Name: seg.Name, DType: t.DType, Shape: t.Shape, Data: buf.Bytes()})
		}
	}
	return zk.Quantize(m)
}
