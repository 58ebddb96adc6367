package objects

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Walk visits every object reachable from roots exactly once, parents
// before children, and calls fn with each id and its decoded object.
// Chunks are read (and so verified) only when readChunks is set;
// otherwise fn sees them with a nil object. Missing or corrupt objects
// are passed to onErr, which decides whether the walk goes on (return
// nil) or stops (return the error).
func Walk(ctx context.Context, s Store, roots []ID, readChunks bool, fn func(id ID, o Object) error, onErr func(id ID, from ID, err error) error) error {
	seen := make(map[ID]bool)
	type item struct{ id, from ID }
	stack := make([]item, 0, len(roots))
	for i := len(roots) - 1; i >= 0; i-- {
		stack = append(stack, item{roots[i], ZeroID})
	}
	// Which ids are known to be chunks (referenced by tensors and blobs).
	chunk := make(map[ID]bool)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[it.id] {
			continue
		}
		seen[it.id] = true
		if chunk[it.id] && !readChunks {
			ok, err := s.Has(ctx, it.id)
			if err == nil && !ok {
				err = &NotFoundError{ID: it.id}
			}
			if err != nil {
				if err := onErr(it.id, it.from, err); err != nil {
					return err
				}
				continue
			}
			if err := fn(it.id, nil); err != nil {
				return err
			}
			continue
		}
		o, err := Read(ctx, s, it.id, 0)
		if err != nil {
			if err := onErr(it.id, it.from, err); err != nil {
				return err
			}
			continue
		}
		if err := fn(it.id, o); err != nil {
			return err
		}
		refs := o.Refs()
		switch o.(type) {
		case *Tensor, *Blob:
			for _, r := range refs {
				chunk[r] = true
			}
		}
		for i := len(refs) - 1; i >= 0; i-- {
			if !seen[refs[i]] {
				stack = append(stack, item{refs[i], it.id})
			}
		}
	}
	return nil
}

// Problem is one finding of Fsck.
type Problem struct {
	ID   ID // zero for a problem of no one object (a damaged pack file)
	From ID // the object that refers to ID, when known
	Err  error
}

func (p Problem) String() string {
	if p.ID.IsZero() {
		return p.Err.Error() // not one object's (a damaged pack)
	}
	if !p.From.IsZero() {
		return fmt.Sprintf("%s (referenced by %s): %v", p.ID, p.From.Short(), p.Err)
	}
	return fmt.Sprintf("%s: %v", p.ID, p.Err)
}

// FsckReport is the result of Fsck.
type FsckReport struct {
	Objects   int       // objects in the store
	Reachable int       // objects reachable from the roots
	Problems  []Problem // corrupt, unreadable or missing objects
	Dangling  []ID      // objects no root reaches (not a problem)
}

// FsckOptions tune Fsck.
type FsckOptions struct {
	// CheckCommit, when set, is called for every reachable commit (to
	// check signatures); its error becomes a problem.
	CheckCommit func(id ID, c *Commit) error
}

// Fsck reads every object in s and checks that it matches its id, and
// that every object reachable from roots is present and well-formed.
func Fsck(ctx context.Context, s Store, roots []ID, opts FsckOptions) (*FsckReport, error) {
	// every object is hashed, not only checked against its checksum
	if st, ok := s.(interface{ SetStrict(bool) bool }); ok {
		defer st.SetStrict(st.SetStrict(true))
	}
	rep := &FsckReport{}
	reach := make(map[ID]bool)
	err := Walk(ctx, s, roots, true, func(id ID, o Object) error {
		reach[id] = true
		if c, ok := o.(*Commit); ok && opts.CheckCommit != nil {
			if err := opts.CheckCommit(id, c); err != nil {
				rep.Problems = append(rep.Problems, Problem{ID: id, Err: err})
			}
		}
		return nil
	}, func(id, from ID, err error) error {
		reach[id] = true
		rep.Problems = append(rep.Problems, Problem{ID: id, From: from, Err: err})
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Reachable = len(reach)
	if ds, ok := s.(DeltaStore); ok {
		// a reachable object stored as a delta needs its base
		for id := range reach {
			if base, err := ds.DeltaBase(ctx, id); err == nil && !base.IsZero() {
				if ok, _ := s.Has(ctx, base); !ok {
					rep.Problems = append(rep.Problems, Problem{ID: base, From: id, Err: errors.New("delta base missing")})
				}
			}
		}
	}
	err = s.List(ctx, func(id ID) error {
		rep.Objects++
		if reach[id] {
			return nil // read and verified by the walk
		}
		rep.Dangling = append(rep.Dangling, id)
		if _, err := s.Get(ctx, id); err != nil {
			rep.Problems = append(rep.Problems, Problem{ID: id, Err: err})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if bp, ok := s.(interface{ BadPacks() []error }); ok {
		// a pack whose index is damaged: its objects are missing (and
		// reported so when reachable); the file is named here
		for _, err := range bp.BadPacks() {
			rep.Problems = append(rep.Problems, Problem{Err: err})
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].ID.String() < rep.Problems[j].ID.String() })
	sort.Slice(rep.Dangling, func(i, j int) bool { return rep.Dangling[i].String() < rep.Dangling[j].String() })
	return rep, nil
}

// GCOptions tune GC.
type GCOptions struct {
	// Absent lists ids known to be missing on purpose (the parents of a
	// shallow clone's oldest commits); references to them are not errors.
	Absent map[ID]bool

	// Grace spares unreachable objects written or reused more recently than
	// this: a concurrent writer stores objects before the ref that makes
	// them reachable. Default one hour.
	Grace  time.Duration
	DryRun bool
}

// GCReport is the result of GC.
type GCReport struct {
	Kept, Removed, Spared int // spared: unreachable but within the grace period
	TempRemoved           int
}

// ModTimer is implemented by stores that know when an object was last
// written or reused (DiskStore). GC without it removes nothing.
type ModTimer interface {
	ModTime(id ID) (time.Time, error)
}

// GC removes objects that no root reaches (following delta bases too),
// sparing recent ones. It never removes a reachable object: it refuses
// to run when any reachable object is missing or corrupt.
func GC(ctx context.Context, s Store, roots []ID, opts GCOptions) (*GCReport, error) {
	if opts.Grace == 0 {
		opts.Grace = time.Hour
	}
	start := time.Now()
	keep := make(map[ID]bool)
	err := Walk(ctx, s, roots, false, func(id ID, o Object) error {
		keep[id] = true
		return nil
	}, func(id, from ID, err error) error {
		if opts.Absent[id] && errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("gc: reachable object %s (from %s) unreadable, run fsck: %w", id.Short(), from.Short(), err)
	})
	if err != nil {
		return nil, err
	}
	if ds, ok := s.(DeltaStore); ok {
		var todo []ID
		for id := range keep {
			todo = append(todo, id)
		}
		for len(todo) > 0 {
			id := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			base, err := ds.DeltaBase(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("gc: %w", err)
			}
			if !base.IsZero() && !keep[base] {
				keep[base] = true
				todo = append(todo, base)
			}
		}
	}
	rep := &GCReport{}
	mt, canTime := s.(ModTimer)
	var victims []ID
	list := s.List
	disk, isDisk := s.(*DiskStore)
	loose := map[ID]bool{}
	if isDisk {
		list = func(ctx context.Context, fn func(ID) error) error {
			return disk.listLoose(ctx, func(id ID) error {
				loose[id] = true
				return fn(id)
			})
		} // packs below
	}
	err = list(ctx, func(id ID) error {
		if keep[id] {
			rep.Kept++
			return nil
		}
		if !canTime {
			rep.Spared++
			return nil
		}
		t, err := mt.ModTime(id)
		if err != nil || t.After(start.Add(-opts.Grace)) {
			rep.Spared++
			return nil
		}
		victims = append(victims, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range victims {
		if !opts.DryRun {
			// Re-check the time: a writer may have reused it since List
			// (a DiskStore checks it once more as it deletes, closing
			// the window between this check and the deletion).
			if t, err := mt.ModTime(id); err != nil || t.After(start.Add(-opts.Grace)) {
				rep.Spared++
				continue
			}
			if d, ok := s.(*DiskStore); ok {
				removed, err := d.DeleteUnlessReused(ctx, id, start.Add(-opts.Grace))
				if err != nil {
					return rep, err
				}
				if !removed {
					rep.Spared++
					continue
				}
			} else if err := s.Delete(ctx, id); err != nil {
				return rep, err
			}
		}
		rep.Removed++
	}
	if isDisk {
		if err := gcPacks(ctx, disk, keep, loose, start.Add(-opts.Grace), opts.DryRun, rep); err != nil {
			return rep, err
		}
	}
	if isDisk && !opts.DryRun {
		rep.TempRemoved, _ = disk.RemoveStaleTemp(max(opts.Grace, MinTempAge))
	}
	return rep, nil
}

// gcPacks is GC for packed objects. A pack written or reused (any object
// in it) after cutoff spares all its unreachable objects; an older one
// holding unreachable objects is rewritten with only the others, or
// removed when none is reachable (DiskStore.rewritePack, which checks the
// pack's time once more as it removes it). An id is counted once, however
// many packs (or a loose file, counted by GC) hold it.
func gcPacks(ctx context.Context, d *DiskStore, keep, counted map[ID]bool, cutoff time.Time, dryRun bool, rep *GCReport) error {
	return d.packedIDs(ctx, func(pk *pack, mod time.Time) error {
		rewrite := false
		drop, spare := 0, 0
		for _, e := range pk.entries {
			first := !counted[e.id]
			counted[e.id] = true
			switch {
			case keep[e.id]:
				if first {
					rep.Kept++
				}
			case mod.After(cutoff):
				if first {
					spare++
				}
			default:
				rewrite = true
				if first {
					drop++
				}
			}
		}
		rep.Spared += spare
		if !rewrite {
			return nil
		}
		if dryRun {
			rep.Removed += drop
			return nil
		}
		removed, err := d.rewritePack(pk, func(id ID) bool { return keep[id] }, cutoff)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		if removed {
			rep.Removed += drop
		} else {
			rep.Spared += drop
		}
		return nil
	})
}
