package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/zk"
)

// ZKEnabled reports whether the repository has zk settings: zk.linf,
// zk.l2, zk.chunk or zk.prove always. Commits of such a repository record
// their commitment root (MetaZKRoot) once EnableZK is on.
func (r *Repo) ZKEnabled() (bool, ZKSettings, error) {
	s, err := r.ZKSettings()
	if err != nil {
		return false, s, err
	}
	return s.Any(), s, nil
}

// EnableZK makes every new commit of a repository with zk settings (see
// ZKEnabled, read at each commit) record the hex commitment root of its
// tree as MetaZKRoot before it is signed, so that the signature binds the
// weights to the root a proof commits to, even where the weights are
// withheld. A model outside the provable range (zk.ErrRange) then cannot
// be committed. It chains any BeforeSign hook already set.
func (r *Repo) EnableZK() {
	prev := r.BeforeSign
	r.BeforeSign = func(ctx context.Context, c *objects.Commit) error {
		if prev != nil {
			if err := prev(ctx, c); err != nil {
				return err
			}
		}
		on, s, err := r.ZKEnabled()
		if err != nil || !on {
			return err
		}
		root, err := r.zkTreeRoot(ctx, c.Tree, s.ChunkSize)
		if errors.Is(err, objects.ErrNotFound) {
			// weights withheld from this repository (a clone of private
			// contributions): no root to record, so the commit claims
			// nothing a proof would have to back
			if absent, werr := r.WithheldAbsent(ctx); werr == nil && len(absent) > 0 {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("record %s: %w", MetaZKRoot, err)
		}
		meta := c.Meta[:0:0]
		for _, kv := range c.Meta {
			if kv.Key != MetaZKRoot {
				meta = append(meta, kv)
			}
		}
		c.Meta = append(meta, objects.KV{Key: MetaZKRoot, Value: root})
		return nil
	}
}

// zkTreeRoot is ZKRoot for a tree that no commit names yet.
func (r *Repo) zkTreeRoot(ctx context.Context, tree objects.ID, chunk int) (string, error) {
	files, err := r.Files(ctx, tree)
	if err != nil {
		return "", err
	}
	v, err := r.zkFilesValues(ctx, files)
	if err != nil {
		return "", err
	}
	c, err := zk.Commit(ctx, v, chunk)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", c.Root), nil
}

// zkFilesValues quantises the float tensors of files (sorted by path,
// then in file order): the values ZKValues commits to.
func (r *Repo) zkFilesValues(ctx context.Context, files map[string]TreeFile) (*zk.Values, error) {
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

// Proofs travel with push and fetch under refs/proofs/<commit>: each
// transfer moves the proof object and its verifying-key chunk (the commit
// travels with its branch).

// proofCommit returns the commit a proof ref names.
func proofCommit(name string) (objects.ID, bool) {
	hex, ok := strings.CutPrefix(name, ProofsPrefix)
	if !ok {
		return objects.ZeroID, false
	}
	id, err := objects.ParseID(hex)
	return id, err == nil
}

// pushProofs uploads the proofs of the commits reachable from tip that
// the server lacks and moves refs/proofs/<commit> on it, before the branch
// moves (so that a server requiring proofs finds them). The server must
// hold the commits already. A proof the server holds with another value
// is replaced only with force (see proofUpdates).
func (r *Repo) pushProofs(ctx context.Context, c *remote.Client, tip objects.ID, onServer *remote.RefList, force bool) error {
	ups, ids, err := r.proofUpdates(ctx, tip, onServer, force)
	if err != nil || len(ups) == 0 {
		return err
	}
	if _, err := c.SendMissing(ctx, r.Objects, ids); err != nil {
		return fmt.Errorf("push proofs: %w", err)
	}
	return sendProofs(ctx, c, ups, nil)
}

// sendProofs moves the proof refs ups (from proofUpdates) on the server:
// new ones and forced replacements in batches, where a refusal stops the
// push; then offers, replacements without force, one at a time: a server
// takes one only when the proof it holds does not verify (a proof an
// older server took, or one the owner's tightened settings fail), and a
// refused offer leaves the server's proof in place.
func sendProofs(ctx context.Context, c *remote.Client, ups []remote.RefUpdate, withheld []objects.ID) error {
	var sure, offers []remote.RefUpdate
	for _, u := range ups {
		if !u.Old.IsZero() && !u.Force {
			offers = append(offers, u)
		} else {
			sure = append(sure, u)
		}
	}
	for len(sure) > 0 {
		n := min(len(sure), remote.MaxUpdates)
		if _, err := c.UpdateRefsWithheld(ctx, sure[:n], withheld); err != nil {
			return fmt.Errorf("push proofs (%s): %w", ProofsPrefix, err)
		}
		sure = sure[n:]
	}
	for _, u := range offers {
		_, err := c.UpdateRefsWithheld(ctx, []remote.RefUpdate{u}, withheld)
		var p *remote.Problem
		if err != nil && !(errors.As(err, &p) && !p.Retryable()) {
			return fmt.Errorf("push proofs (%s): %w", ProofsPrefix, err)
		}
	}
	return nil
}

// fetchProofs downloads the server's proofs of the commits this
// repository holds, and of the parents of a shallow clone's oldest commits
// (so that verify can check their commitments without their weights), and
// creates their refs/proofs/<commit>; a proof ref that exists locally is
// never overwritten (like tags). Only proof objects and verifying-key
// chunks are downloaded: never commits or weights.
func (r *Repo) fetchProofs(ctx context.Context, c *remote.Client, list *remote.RefList) error {
	boundary, err := r.shallowBoundary(ctx)
	if err != nil {
		return err
	}
	var want []objects.ID
	var ups []refs.Update
	commits := map[objects.ID]bool{}
	for _, ref := range list.Refs {
		commit, ok := proofCommit(ref.Name)
		if !ok {
			continue
		}
		if _, err := r.Refs.Read(refs.Name(ref.Name)); err == nil {
			continue
		}
		if has, err := r.Objects.Has(ctx, commit); err != nil || !has && !boundary[commit] {
			continue
		}
		commits[commit] = true
		want = append(want, ref.ID)
		ups = append(ups, refs.Update{Name: refs.Name(ref.Name), New: ref.ID})
	}
	for start := 0; start < len(want); start += remote.MaxBatch {
		plan, err := c.Plan(ctx, remote.PlanRequest{Want: want[start:min(start+remote.MaxBatch, len(want))]})
		if err != nil {
			return fmt.Errorf("fetch proofs: %w", err)
		}
		missing := plan.Objects[:0]
		for _, po := range plan.Objects {
			if has, _ := r.Objects.Has(ctx, po.ID); !has && !commits[po.ID] {
				missing = append(missing, po)
			}
		}
		plan.Objects = missing
		if _, err := c.FetchObjects(ctx, r.Objects, plan); err != nil {
			return fmt.Errorf("fetch proofs: %w", err)
		}
	}
	for i, p := range want {
		o, err := objects.Read(ctx, r.Objects, p, objects.KindProof)
		if err != nil {
			return fmt.Errorf("fetch proofs: %s: %w", ups[i].Name, err)
		}
		for _, n := range o.(*objects.Proof).Needs {
			if has, err := r.Objects.Has(ctx, n); err != nil || !has {
				return fmt.Errorf("fetch proofs: %s: %w: object %s missing after download", ups[i].Name, remote.ErrIncomplete, n.Short())
			}
		}
	}
	if len(ups) == 0 {
		return nil
	}
	return r.Refs.Transaction(ups, r.entry("fetch proofs"))
}
