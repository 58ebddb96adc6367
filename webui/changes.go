package webui

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// A comparison of two commits (a commit page's with its parent, a compare
// page's) is a pure function of immutable objects, so the pages keep it:
// the files and tensors changed, listed once, and each tensor's
// statistics as a page first shows it. The cache is a bounded LRU in the
// server process (Options.CacheBytes), keyed by the repository (its name
// and creation time) and both commits: a repository holding the weights
// never lends its numbers to one that withholds them.

// DefaultCacheBytes bounds the comparisons the pages keep when
// Options.CacheBytes is 0.
const DefaultCacheBytes = 64 << 20

// changeKey names a comparison: repo is the repository's name and
// creation time (a repository removed and created again under its name
// is another one).
type changeKey struct {
	repo     string
	from, to objects.ID
}

// changeSet is a comparison: its files and changed tensors in model
// order, and the statistics computed so far.
type changeSet struct {
	files []FileRow
	rows  []TensorRow // without statistics
	diffs []repo.TensorDiff
	size  int64 // estimated bytes held

	mu    sync.Mutex
	stats []tensorStat // by row
}

// tensorStat is what a row's statistics came to.
type tensorStat struct {
	done          bool
	l2, relChange *float64
}

// row returns row i with the statistics computed so far.
func (cs *changeSet) row(i int) (TensorRow, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	t, st := cs.rows[i], cs.stats[i]
	t.L2, t.RelChange = st.l2, st.relChange
	return t, st.done
}

// changeCache is the LRU of comparisons, and the listings under way.
type changeCache struct {
	mu       sync.Mutex
	max, now int64
	order    *list.List // of *cacheItem, most recent first
	items    map[changeKey]*list.Element
	listing  map[changeKey]*listing
}

// listing is a comparison being listed by one request, which the others
// asking for it wait for.
type listing struct {
	done chan struct{} // closed when cs or err is set
	cs   *changeSet
	err  error
}

type cacheItem struct {
	key changeKey
	cs  *changeSet
}

func newChangeCache(max int64) *changeCache {
	return &changeCache{max: max, order: list.New(), items: map[changeKey]*list.Element{}, listing: map[changeKey]*listing{}}
}

// begin returns the comparison k when kept, else the listing of k under
// way, lead: true when the caller is to list it (and end the listing).
func (c *changeCache) begin(k changeKey) (cs *changeSet, l *listing, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheItem).cs, nil, false
	}
	if l, ok := c.listing[k]; ok {
		return nil, l, false
	}
	l = &listing{done: make(chan struct{})}
	c.listing[k] = l
	return nil, l, true
}

// end ends listing l of k with cs (kept, see put) or err, and returns
// the comparison kept.
func (c *changeCache) end(k changeKey, l *listing, cs *changeSet, err error) *changeSet {
	if err == nil {
		cs = c.put(k, cs)
	}
	c.mu.Lock()
	delete(c.listing, k)
	c.mu.Unlock()
	l.cs, l.err = cs, err
	close(l.done)
	return cs
}

func (c *changeCache) get(k changeKey) *changeSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheItem).cs
}

// put keeps cs under k unless one is kept already (returned instead), or
// cs alone is larger than the cache; it evicts the least recently used
// until the cache fits.
func (c *changeCache) put(k changeKey, cs *changeSet) *changeSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheItem).cs
	}
	if cs.size > c.max {
		return cs
	}
	c.items[k] = c.order.PushFront(&cacheItem{key: k, cs: cs})
	c.now += cs.size
	for c.now > c.max {
		e := c.order.Back()
		it := e.Value.(*cacheItem)
		c.order.Remove(e)
		delete(c.items, it.key)
		c.now -= it.cs.size
	}
	return cs
}

// usage returns the comparisons kept and their estimated bytes.
func (c *changeCache) usage() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.now
}

// Estimated bytes of a comparison: each row's strings and ids, shapes,
// and the fixed part of the structures holding them.
const (
	fileRowBytes   = 96
	tensorRowBytes = 400
)

// changes returns the comparison of commit to with from (zero: nothing)
// in repository rp, from the cache or listed now (without statistics;
// stat adds them).
// Requests asking at once for a comparison not kept wait for the one
// that lists it (Options.Computed hears "wait"), so a page many visitors
// open together is listed once; when that request gives up (its visitor
// left), a waiting one lists it.
func (p *Pages) changes(ctx context.Context, rr *repo.Repo, rp server.PageRepo, from, to objects.ID) (*changeSet, error) {
	k := changeKey{repo: rp.Name + "\x00" + rp.Created.UTC().Format(time.RFC3339Nano), from: from, to: to}
	for {
		cs, l, lead := p.cache.begin(k)
		switch {
		case cs != nil:
			return cs, nil
		case lead:
			p.opts.Computed("changes")
			diffs, err := rr.Diff(ctx, repo.DiffSide{Commit: from}, repo.DiffSide{Commit: to}, repo.DiffOptions{})
			if err != nil {
				p.cache.end(k, l, nil, err)
				return nil, err
			}
			return p.cache.end(k, l, newChangeSet(diffs), nil), nil
		}
		p.opts.Computed("wait")
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err == nil {
			return l.cs, nil
		}
		if !errors.Is(l.err, context.Canceled) && !errors.Is(l.err, context.DeadlineExceeded) {
			return nil, l.err
		}
		// The lister's visitor left: list it here.
	}
}

// newChangeSet lists diffs as rows, with the estimate of their size.
func newChangeSet(diffs []repo.FileDiff) *changeSet {
	cs := &changeSet{files: []FileRow{}, rows: []TensorRow{}}
	for _, d := range diffs {
		cs.files = append(cs.files, FileRow{Path: d.Path, Status: string(d.Status), Format: d.Format, Tensors: len(d.Tensors)})
		cs.size += fileRowBytes + int64(len(d.Path)+len(d.Format))
		for _, t := range d.Tensors {
			cs.rows = append(cs.rows, TensorRow{File: d.Path, Name: t.Name, Status: string(t.Status)})
			cs.diffs = append(cs.diffs, t)
			cs.size += tensorRowBytes + int64(2*len(t.Name)+8*(len(t.OldShape)+len(t.NewShape)))
		}
	}
	cs.stats = make([]tensorStat, len(cs.rows))
	return cs
}

// errWithheld reports a tensor whose weights are not on this server.
var errWithheld = errors.New("weights withheld")

// stat computes the statistics of row i unless they are known. It
// returns errWithheld when the weights are not here (not kept: they may
// arrive later).
func (p *Pages) stat(ctx context.Context, rr *repo.Repo, cs *changeSet, i int) error {
	if _, done := cs.row(i); done {
		return nil
	}
	d := cs.diffs[i]
	p.opts.Computed("tensor")
	if err := rr.TensorStats(ctx, &d); err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return errWithheld
		}
		return err
	}
	st := tensorStat{done: true}
	if d.HasStats {
		st.l2, st.relChange = finite(d.L2), finite(d.RelChange)
	}
	cs.mu.Lock()
	cs.stats[i] = st
	cs.mu.Unlock()
	return nil
}

// statRows computes the statistics of rows lo to hi and returns them;
// withheld: some weights are not here, and those rows have none.
func (p *Pages) statRows(ctx context.Context, rr *repo.Repo, cs *changeSet, lo, hi int) (rows []TensorRow, withheld bool, err error) {
	rows = []TensorRow{}
	for i := lo; i < hi; i++ {
		if !withheld {
			err := p.stat(ctx, rr, cs, i)
			if errors.Is(err, errWithheld) {
				withheld = true
			} else if err != nil {
				return nil, false, err
			}
		}
		t, _ := cs.row(i)
		rows = append(rows, t)
	}
	return rows, withheld, nil
}
