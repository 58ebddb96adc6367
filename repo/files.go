package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/npy"         // registers the npy and npz parsers
	"github.com/fed-vcs/fed/codec/onnx"        // registers the onnx parser
	"github.com/fed-vcs/fed/codec/safetensors" // registers the safetensors parser
	"github.com/fed-vcs/fed/codec/torch"       // registers the torch checkpoint parser
	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// hashOnly is a Store that computes ids and keeps nothing: status uses it
// to learn a file's id without writing objects (ids never depend on how
// objects are stored).
type hashOnly struct{}

func (hashOnly) Get(ctx context.Context, id objects.ID) ([]byte, error) {
	return nil, &objects.NotFoundError{ID: id}
}
func (hashOnly) Has(context.Context, objects.ID) (bool, error)      { return false, nil }
func (hashOnly) Delete(context.Context, objects.ID) error           { return nil }
func (hashOnly) List(context.Context, func(objects.ID) error) error { return nil }
func (hashOnly) Put(ctx context.Context, obj []byte, _ objects.PutOptions) (objects.ID, error) {
	return objects.Sum(obj), nil
}

// importFile stores the file at path through w: as a model when its
// content is a model format fed understands, else as a blob. parent is
// the previous version's object (a model gives delta bases for its
// tensors), or ZeroID. Nothing is stored until w.Flush.
func (r *Repo) importFile(ctx context.Context, w *objects.Writer, path, name string, parent objects.ID) (objects.Kind, objects.ID, error) {
	k, id, _, err := r.importFileModel(ctx, w, path, name, parent)
	return k, id, err
}

// importFileModel is importFile that also returns the model object of a
// model file.
func (r *Repo) importFileModel(ctx context.Context, w *objects.Writer, path, name string, parent objects.ID) (objects.Kind, objects.ID, *objects.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, objects.ZeroID, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, objects.ZeroID, nil, err
	}
	layout, err := codec.Parse(f, fi.Size(), name)
	if errors.Is(err, codec.ErrNotModel) {
		var oe *codec.OpaqueError
		if errors.As(err, &oe) && r.Warn != nil && r.warnOpaque {
			r.Warn(fmt.Sprintf("%s: %s file stored as opaque bytes, without tensor-level diff or merge: %s", name, oe.Format, oe.Reason))
		}
		id, _, err := w.Blob(bufReader(f))
		if err != nil {
			return 0, objects.ZeroID, nil, fmt.Errorf("%s: %w", name, err)
		}
		r.Progress.Add(fi.Size())
		return objects.KindBlob, id, nil, nil
	}
	if err != nil {
		return 0, objects.ZeroID, nil, err // codec errors name the file
	}
	parentTensors := r.parentTensors(ctx, parent)
	m := &objects.Model{Format: layout.Format, Size: uint64(layout.Size)}
	for _, seg := range layout.Segments {
		sr := io.NewSectionReader(f, seg.Offset, seg.Length)
		// A tensor without a name cannot be told from raw bytes in a model
		// object (doc/design.md); it is stored as raw bytes.
		if seg.Tensor == nil || seg.Tensor.Name == "" {
			id, _, err := w.Blob(sr)
			if err != nil {
				return 0, objects.ZeroID, nil, fmt.Errorf("%s: %w", name, err)
			}
			m.Segments = append(m.Segments, objects.Segment{ID: id, Size: uint64(seg.Length)})
		} else {
			t := seg.Tensor
			info := objects.TensorInfo{DType: t.DType, Shape: t.Shape, Size: uint64(seg.Length)}
			if info.Shape == nil {
				info.Shape = []uint64{}
			}
			id, _, err := w.Tensor(sr, info, parentTensors[t.Name])
			if err != nil {
				return 0, objects.ZeroID, nil, fmt.Errorf("%s: tensor %q: %w", name, t.Name, err)
			}
			m.Segments = append(m.Segments, objects.Segment{Name: t.Name, ID: id, Size: uint64(seg.Length)})
		}
		r.Progress.Add(seg.Length)
	}
	id, err := w.Object(m)
	if err != nil {
		return 0, objects.ZeroID, nil, fmt.Errorf("%s: %w", name, err)
	}
	return objects.KindModel, id, m, nil
}

// parentTensors maps the tensor names of model id to their objects; empty
// when id is not a readable model (deltas are an optimisation only).
func (r *Repo) parentTensors(ctx context.Context, id objects.ID) map[string]*objects.Tensor {
	out := map[string]*objects.Tensor{}
	if id.IsZero() {
		return out
	}
	m, err := objects.ReadModel(ctx, r.Objects, id)
	if err != nil {
		return out
	}
	for _, s := range m.Segments {
		if s.IsTensor() {
			if t, err := objects.ReadTensor(ctx, r.Objects, s.ID); err == nil {
				out[s.Name] = t
			}
		}
	}
	return out
}

type readerOnly struct{ io.Reader }

func bufReader(f *os.File) io.Reader { return readerOnly{f} }

// fileID returns the id a file would get, without storing anything.
func (r *Repo) fileID(ctx context.Context, path, name string) (objects.Kind, objects.ID, error) {
	k, id, _, err := r.hashFile(ctx, path, name)
	return k, id, err
}

// hashFile returns the id a file would get and, for a model file, its
// model object, without storing anything.
func (r *Repo) hashFile(ctx context.Context, path, name string) (objects.Kind, objects.ID, *objects.Model, error) {
	var hs hashOnly
	w := objects.NewWriter(ctx, hs)
	k, id, m, err := r.importFileModel(ctx, w, path, name, objects.ZeroID)
	if err != nil {
		return 0, objects.ZeroID, nil, err
	}
	if err := w.Flush(); err != nil {
		return 0, objects.ZeroID, nil, err
	}
	return k, id, m, nil
}

// checkoutFile writes the content of object id to the repository path
// rel, atomically (temporary file in the same directory, then rename),
// and returns its new stat data. It never writes outside the root: every
// parent directory must be a real directory, not a symlink.
func (r *Repo) checkoutFile(ctx context.Context, rel string, id objects.ID, mode uint32) (os.FileInfo, error) {
	if !r.locked {
		// its temporary file must be written under the lock (sweepTemps)
		return nil, fmt.Errorf("checkout %s: the working tree is written without the repository lock (a bug)", rel)
	}
	if err := validPath(rel); err != nil {
		return nil, err
	}
	dst := r.abs(rel)
	if err := r.mkdirs(rel); err != nil {
		return nil, err
	}
	perm := os.FileMode(0o644)
	if mode == objects.ModeExec {
		perm = 0o755
	}
	if name, ok := r.takePrebuilt(id); ok {
		if err := os.Chmod(name, perm); err == nil {
			if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
				if err := os.RemoveAll(dst); err != nil {
					os.Remove(name)
					return nil, err
				}
			}
			if err := fsys.Rename(name, dst); err != nil {
				os.Remove(name)
				return nil, fmt.Errorf("checkout %s: %w", rel, err)
			}
			return os.Lstat(dst)
		}
		os.Remove(name)
	}
	tmp, err := os.CreateTemp(dirOf(dst), ".fed-tmp-*")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := newBufWriter(&flushingWriter{f: tmp})
	if err := objects.WriteFileTo(ctx, r.Objects, id, bw); err != nil {
		return nil, r.checkoutError(rel, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", rel, err)
	}
	fsys.StartWriteback(tmp)
	if err := tmp.Chmod(perm); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		if err := os.RemoveAll(dst); err != nil {
			return nil, err
		}
	}
	if err := fsys.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", rel, err)
	}
	ok = true
	return os.Lstat(dst)
}

// checkoutError describes a failure to rebuild rel; absent weights that
// their contributor withheld on purpose are named as such.
func (r *Repo) checkoutError(rel string, err error) error {
	return r.withheldError("checkout", rel, "checked out", err)
}

// withheldError describes err, a failure of op (checkout, diff) to read
// rel: when the object missing is one that its contributor withheld on
// purpose (.fed/withheld), it says so and what cannot be done ("checked
// out"), rather than reporting a bare missing object.
func (r *Repo) withheldError(op, rel, cannot string, err error) error {
	var nf *objects.NotFoundError
	if errors.As(err, &nf) {
		if w, werr := r.Withheld(); werr == nil && w[nf.ID] {
			return fmt.Errorf("%s %s: its weights (tensor object %s) were withheld by their contributor (a private push): the commit can be verified but not %s: %w", op, rel, nf.ID.Short(), cannot, err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, rel, err)
}

// mkdirs creates the parent directories of rel, refusing symlinks and
// replacing files that stand where a directory must be.
func (r *Repo) mkdirs(rel string) error {
	dir := r.Root
	parts := splitPath(rel)
	for _, p := range parts[:len(parts)-1] {
		dir = dir + string(os.PathSeparator) + p
		fi, err := os.Lstat(dir)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("refusing to write %s: %s is a symbolic link", rel, dir)
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			if err := os.Remove(dir); err != nil {
				return err
			}
		case !os.IsNotExist(err):
			return err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// isFormatError reports an error about a model file's content (as
// opposed to an I/O error): such a file is "modified", not unreadable.
func isFormatError(err error) bool {
	return errors.Is(err, safetensors.ErrInvalid) || errors.Is(err, codec.ErrInvalidLayout) ||
		errors.Is(err, torch.ErrInvalid) || errors.Is(err, npy.ErrInvalid) || errors.Is(err, onnx.ErrInvalid)
}
