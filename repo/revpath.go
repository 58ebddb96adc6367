package repo

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// SplitRevPath splits git's REV:PATH ("v1:model.safetensors") into the
// revision and the path; ok is false when spec has no ':' (ref names
// cannot contain one). An empty REV means HEAD. PATH is relative to the
// repository's root, or to the working directory when it starts with
// "./" or "../" (as in git).
func SplitRevPath(spec string) (rev, p string, ok bool) {
	rev, p, ok = strings.Cut(spec, ":")
	if !ok {
		return "", "", false
	}
	if rev == "" {
		rev = "HEAD"
	}
	return rev, p, true
}

// FileAt finds the file at path p (see SplitRevPath) in revision rev.
// It returns the repository-relative path and the file.
func (r *Repo) FileAt(ctx context.Context, rev, p string) (string, TreeFile, error) {
	rel := path.Clean(strings.TrimPrefix(p, "/"))
	if strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
		var err error
		if rel, err = r.rel(p); err != nil {
			return "", TreeFile{}, err
		}
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return "", TreeFile{}, err
	}
	files, err := r.CommitFiles(ctx, id)
	if err != nil {
		return "", TreeFile{}, err
	}
	f, ok := files[rel]
	if !ok {
		for q := range files {
			if under(q, rel) {
				return "", TreeFile{}, fmt.Errorf("%s:%s is a directory, not a file", rev, p)
			}
		}
		return "", TreeFile{}, fmt.Errorf("path %s does not exist in %s", rel, rev)
	}
	return rel, f, nil
}

// WriteFileAt writes the bytes of the file at path p of revision rev to w.
func (r *Repo) WriteFileAt(ctx context.Context, rev, p string, w io.Writer) error {
	rel, f, err := r.FileAt(ctx, rev, p)
	if err != nil {
		return err
	}
	if err := objects.WriteFileTo(ctx, r.Objects, f.ID, w); err != nil {
		return fmt.Errorf("read %s:%s: %w", rev, rel, err)
	}
	return nil
}
