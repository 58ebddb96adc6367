package mergeexec

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// A merge writes the working-tree file of every model it produces while it
// merges, next to its destination, instead of reading the merged model back
// from the store afterwards (which would decode and verify every piece
// again). The checkout then renames the prebuilt file into place (see
// repo.AddPrebuilt). A prebuilt file is used only for the object id it was
// completed for; anything left over is removed when the merge ends.

// prebuild collects the files of one merge, keyed by model path.
type prebuild struct {
	r     *repo.Repo
	files map[string]*prebuiltFile
}

type prebuiltFile struct {
	f       *os.File
	name    string
	model   *objects.Model
	offsets []int64 // segment i starts at offsets[i]
	written []bool  // segment i holds its final bytes
	// writeAt runs on the writer's workers (several pieces at once): mu
	// guards broken and pending
	mu      sync.Mutex
	broken  bool  // a write failed: fall back to a normal checkout
	pending int64 // bytes written since the last fsys.StartWriteback
}

func newPrebuild(r *repo.Repo) *prebuild {
	return &prebuild{r: r, files: map[string]*prebuiltFile{}}
}

// segment returns the file of path's model m and the offset of segment
// seg, creating the file on first use; nil when the file cannot be made.
func (b *prebuild) segment(path string, m *objects.Model, seg int) (*prebuiltFile, int64) {
	pf, ok := b.files[path]
	if !ok {
		pf = &prebuiltFile{model: m}
		b.files[path] = pf
		f, err := b.r.WorktreeTemp(path)
		if err != nil {
			pf.broken = true
			return nil, 0
		}
		// the file this one replaces: release its cached pages now, while
		// the merge computes, rather than in the rename at the end
		go fsys.DropCache(filepath.Join(b.r.Root, filepath.FromSlash(path)))
		pf.f, pf.name = f, f.Name()
		var off int64
		for _, s := range m.Segments {
			pf.offsets = append(pf.offsets, off)
			off += int64(s.Size)
		}
		pf.written = make([]bool, len(m.Segments))
		if f.Truncate(off) != nil {
			pf.broken = true
		}
	}
	if pf.isBroken() || pf.model != m || seg >= len(pf.offsets) {
		return nil, 0
	}
	return pf, pf.offsets[seg]
}

// writeAt writes p at off; a failure only disables the prebuilt file. It
// may run on several goroutines at once.
func (pf *prebuiltFile) writeAt(p []byte, off int64) {
	if pf == nil || pf.isBroken() {
		return
	}
	_, err := pf.f.WriteAt(p, off)
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if err != nil {
		pf.broken = true
		return
	}
	if pf.pending += int64(len(p)); pf.pending >= repo.WritebackEvery {
		fsys.StartWriteback(pf.f)
		pf.pending = 0
	}
}

func (pf *prebuiltFile) isBroken() bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return pf.broken
}

// finish completes path's file for the final model m (after fixups) and
// registers it as the content of object id. When m's layout differs from
// the one the pieces were written for, the file is dropped.
func (b *prebuild) finish(ctx context.Context, path string, m *objects.Model, id objects.ID) error {
	pf, ok := b.files[path]
	if !ok || pf.broken || pf.f == nil {
		return nil
	}
	if len(m.Segments) != len(pf.model.Segments) || m.Size != pf.model.Size {
		pf.broken = true
		return nil
	}
	for i, s := range m.Segments {
		if s.Size != pf.model.Segments[i].Size {
			pf.broken = true
			return nil
		}
	}
	for i, s := range m.Segments {
		if pf.written[i] && s == pf.model.Segments[i] {
			continue
		}
		w := io.NewOffsetWriter(pf.f, pf.offsets[i])
		var err error
		if s.IsTensor() {
			var t *objects.Tensor
			if t, err = objects.ReadTensor(ctx, b.r.Objects, s.ID); err == nil {
				err = objects.WriteTensorTo(ctx, b.r.Objects, t, w)
			}
		} else {
			err = objects.WriteFileTo(ctx, b.r.Objects, s.ID, w)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	fsys.StartWriteback(pf.f)
	if err := pf.f.Close(); err != nil {
		pf.broken = true
		return nil
	}
	pf.f = nil
	b.r.AddPrebuilt(id, pf.name)
	delete(b.files, path)
	return nil
}

// cleanup removes every file not handed over and every handed-over file
// that no checkout used.
func (b *prebuild) cleanup() {
	for _, pf := range b.files {
		if pf.f != nil {
			pf.f.Close()
			os.Remove(pf.name)
		}
	}
	b.files = nil
	b.r.DropPrebuilt()
}
