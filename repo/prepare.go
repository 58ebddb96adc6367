package repo

import (
	"context"
	"errors"
	"os"
	"sync"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// A clone writes the files of the commit it checks out while their
// objects arrive: the fetch first takes the small objects (commits, trees,
// models, tensors: the layout of every file), then the pieces, each
// written at its offsets in a temporary file next to its destination as
// soon as it is verified. Pieces that arrived before (or were present)
// are filled in from the store at the end. The checkout then renames the
// files into place (checkoutFile, through r.prebuilt) instead of decoding
// and verifying every piece a second time.

// smallObject bounds the objects fetched first: metadata, not pieces.
const smallObject = 64 << 10

// Only files of at least minPrepared bytes are prepared, at most
// maxPrepared of them (each holds a file open during the fetch); smaller
// ones are checked out as usual, which costs little.
const (
	minPrepared = 1 << 20
	maxPrepared = 64
)

// FetchObjects downloads the objects of plan through c into the store.
// When tip is not zero (a clone, holding the repository lock), it writes
// the large files of commit tip next to their destinations while their
// objects arrive; the checkout that follows renames them into place, and
// DropPrebuilt removes those it did not use.
func (r *Repo) FetchObjects(ctx context.Context, c *remote.Client, plan *remote.Plan, tip objects.ID) (remote.FetchStats, error) {
	disk, err := r.Disk()
	if err != nil {
		return remote.FetchStats{}, err
	}
	if tip.IsZero() {
		return c.FetchObjects(ctx, disk, plan)
	}
	var small, large remote.Plan
	for _, o := range plan.Objects {
		if o.Size < smallObject {
			small.Objects = append(small.Objects, o)
		} else {
			large.Objects = append(large.Objects, o)
		}
	}
	st, err := c.FetchObjects(ctx, disk, &small)
	if err != nil {
		return st, err
	}
	p := r.newPrepared(ctx, tip)
	st2, err := c.FetchObjectsFunc(ctx, disk, &large, p.arrived)
	st.Planned, st.Have, st.Objects, st.Bytes = st.Planned+st2.Planned, st.Have+st2.Have, st.Objects+st2.Objects, st.Bytes+st2.Bytes
	if err != nil {
		p.abandon()
		return st, err
	}
	p.finish(ctx)
	return st, nil
}

// prepared is the set of files being written during a fetch.
type prepared struct {
	r     *Repo
	mu    sync.Mutex
	files []*preparedFile
	at    map[objects.ID][]chunkAt // where each chunk goes
}

type preparedFile struct {
	path    string
	id      objects.ID // the file's object (blob or model)
	f       *os.File
	chunks  []objects.ID
	offs    []int64
	done    []bool
	broken  bool
	pending int64 // bytes written since the last fsys.StartWriteback
}

type chunkAt struct {
	file *preparedFile
	idx  int
}

// newPrepared lays out the files of commit tip from the objects present;
// a file whose layout cannot be read (absent metadata, withheld weights)
// is simply not prepared.
func (r *Repo) newPrepared(ctx context.Context, tip objects.ID) *prepared {
	p := &prepared{r: r, at: map[objects.ID][]chunkAt{}}
	if !r.locked {
		return p // temporaries are written only under the lock (sweepTemps)
	}
	files, err := r.CommitFiles(ctx, tip)
	if err != nil {
		return p
	}
	for path, tf := range files {
		if len(p.files) == maxPrepared {
			break
		}
		chunks, sizes, err := r.fileChunks(ctx, tf)
		var total uint64
		for _, n := range sizes {
			total += n
		}
		if err != nil || total < minPrepared || validPath(path) != nil || r.mkdirs(path) != nil {
			continue
		}
		f, err := os.CreateTemp(dirOf(r.abs(path)), ".fed-tmp-*")
		if err != nil {
			continue
		}
		pf := &preparedFile{path: path, id: tf.ID, f: f, chunks: chunks, done: make([]bool, len(chunks))}
		var off int64
		for i, id := range chunks {
			pf.offs = append(pf.offs, off)
			off += int64(sizes[i])
			p.at[id] = append(p.at[id], chunkAt{pf, i})
		}
		if f.Truncate(off) != nil {
			pf.broken = true
		}
		p.files = append(p.files, pf)
	}
	return p
}

// fileChunks lists the chunk objects whose data, concatenated, is the
// file of tf, and their lengths.
func (r *Repo) fileChunks(ctx context.Context, tf TreeFile) ([]objects.ID, []uint64, error) {
	var ids []objects.ID
	var sizes []uint64
	addBlob := func(id objects.ID) error {
		b, err := objects.ReadBlob(ctx, r.Objects, id)
		if err != nil {
			return err
		}
		for i, c := range b.Refs() {
			ids, sizes = append(ids, c), append(sizes, b.Chunks[i].Size)
		}
		return nil
	}
	switch tf.Kind {
	case objects.KindBlob:
		if err := addBlob(tf.ID); err != nil {
			return nil, nil, err
		}
	case objects.KindModel:
		m, err := objects.ReadModel(ctx, r.Objects, tf.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, seg := range m.Segments {
			if !seg.IsTensor() {
				if err := addBlob(seg.ID); err != nil {
					return nil, nil, err
				}
				continue
			}
			t, err := objects.ReadTensor(ctx, r.Objects, seg.ID)
			if err != nil {
				return nil, nil, err
			}
			if t.Size != seg.Size {
				return nil, nil, errors.New("tensor size differs from its segment")
			}
			for i, c := range t.Pieces {
				ids, sizes = append(ids, c), append(sizes, t.PieceLen(i))
			}
		}
	default:
		return nil, nil, errors.New("not a file")
	}
	return ids, sizes, nil
}

// arrived writes a verified chunk wherever the prepared files hold it.
func (p *prepared) arrived(id objects.ID, obj []byte) {
	p.mu.Lock()
	locs := p.at[id]
	p.mu.Unlock()
	if len(locs) == 0 || len(obj) < objects.HeaderSize {
		return
	}
	if k, err := objects.PeekKind(obj); err != nil || k != objects.KindChunk {
		return
	}
	data := obj[objects.HeaderSize:]
	for _, l := range locs {
		pf := l.file
		_, err := pf.f.WriteAt(data, pf.offs[l.idx])
		p.mu.Lock()
		flush := false
		if err != nil {
			pf.broken = true
		} else {
			pf.done[l.idx] = true
			if pf.pending += int64(len(data)); pf.pending >= writebackEvery {
				pf.pending, flush = 0, true
			}
		}
		p.mu.Unlock()
		if flush {
			fsys.StartWriteback(pf.f)
		}
	}
}

// finish fills in the chunks that did not arrive during the fetch and
// hands every complete file to the checkout.
func (p *prepared) finish(ctx context.Context) {
	for _, pf := range p.files {
		ok := !pf.broken
		for i, id := range pf.chunks {
			if !ok {
				break
			}
			if pf.done[i] {
				continue
			}
			b, err := p.r.Objects.Get(ctx, id)
			if err != nil || len(b) < objects.HeaderSize {
				ok = false
				break
			}
			if _, err := pf.f.WriteAt(b[objects.HeaderSize:], pf.offs[i]); err != nil {
				ok = false
			}
		}
		fsys.StartWriteback(pf.f)
		if err := pf.f.Close(); err != nil {
			ok = false
		}
		if !ok {
			os.Remove(pf.f.Name())
			continue
		}
		p.r.AddPrebuilt(pf.id, pf.f.Name())
	}
	p.files = nil
}

// abandon removes the files of a failed fetch.
func (p *prepared) abandon() {
	for _, pf := range p.files {
		pf.f.Close()
		os.Remove(pf.f.Name())
	}
	p.files = nil
}
