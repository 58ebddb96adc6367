package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the ignore-rule files (gitignore syntax), in
// the root and in any directory.
const IgnoreFile = ".fedignore"

// ignorer answers whether a path is ignored.
type ignorer struct {
	m gitignore.Matcher
}

func (r *Repo) loadIgnore() (*ignorer, error) {
	var pats []gitignore.Pattern
	err := filepath.WalkDir(r.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts are reported by the scan itself
		}
		if d.IsDir() && d.Name() == DirName && p != r.Root {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != IgnoreFile {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		rel, _ := filepath.Rel(r.Root, filepath.Dir(p))
		var domain []string
		if rel != "." {
			domain = strings.Split(filepath.ToSlash(rel), "/")
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimRight(line, "\r")
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			pats = append(pats, gitignore.ParsePattern(line, domain))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ignorer{m: gitignore.NewMatcher(pats)}, nil
}

func (ig *ignorer) ignored(rel string, dir bool) bool {
	return ig.m.Match(splitPath(rel), dir)
}

// scan lists the files under the repository path prefix ("" for all):
// regular files not ignored, as repository paths with their stat data.
func (r *Repo) scan(prefix string, ig *ignorer) (map[string]fs.FileInfo, error) {
	out := map[string]fs.FileInfo{}
	start := r.abs(prefix)
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("scan %s: %w", p, err)
		}
		rel, _ := filepath.Rel(r.Root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == DirName && p != r.Root {
				return filepath.SkipDir
			}
			if rel != "." && ig.ignored(rel, true) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".fed-tmp-") {
			return nil // symlinks, devices: not tracked
		}
		if ig.ignored(rel, false) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // vanished meanwhile
		}
		out[rel] = fi
		return nil
	})
	return out, err
}

// AddOptions tune Add.
type AddOptions struct {
	Force bool // add ignored files named explicitly, and Solana keypair files
}

// KeypairFileError reports a file to be added that is a Solana keypair (a
// secret key, solana-keygen's JSON array of 64 bytes): committed, it
// would be sent to every clone.
type KeypairFileError struct{ Path string }

func (e *KeypairFileError) Error() string {
	return fmt.Sprintf("%s is a Solana keypair (a secret signing key); not adding it", e.Path)
}

// isKeypairFile reports whether the file at path of size bytes holds a
// solana-keygen keypair.
func isKeypairFile(path string, size int64) bool {
	if size > 1024 || size < 2*64 {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	_, err = objects.ParseKeypair(path, b)
	return err == nil
}

// Add stages the files at paths (files or directories; a path deleted
// from the working tree stages its removal).
func (r *Repo) Add(ctx context.Context, paths []string, opts AddOptions) error {
	unlock, err := r.Lock(lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	ig, err := r.loadIgnore()
	if err != nil {
		return err
	}
	todo := map[string]fs.FileInfo{}
	for _, p := range paths {
		rel, err := r.rel(p)
		if err != nil {
			return err
		}
		fi, statErr := os.Lstat(r.abs(rel))
		switch {
		case statErr == nil && fi.Mode().IsRegular():
			if ig.ignored(rel, false) && !opts.Force {
				return fmt.Errorf("path %s is ignored by %s; use --force to add it", p, IgnoreFile)
			}
			todo[rel] = fi
		case statErr == nil && fi.IsDir():
			files, err := r.scan(rel, ig)
			if err != nil {
				return err
			}
			for k, v := range files {
				todo[k] = v
			}
			// tracked files under the directory that are gone: stage removal
			// (over a copy: Remove shifts the entries)
			for _, e := range append([]IndexEntry(nil), idx.Entries...) {
				if under(e.Path, rel) && files[e.Path] == nil {
					if _, err := os.Lstat(r.abs(e.Path)); errors.Is(err, fs.ErrNotExist) {
						idx.Remove(e.Path)
					}
				}
			}
		case statErr == nil:
			return fmt.Errorf("path %s is not a regular file or directory", p)
		case errors.Is(statErr, fs.ErrNotExist):
			found := false
			for _, e := range append([]IndexEntry(nil), idx.Entries...) {
				if e.Path == rel || under(e.Path, rel) {
					idx.Remove(e.Path)
					found = true
				}
			}
			if !found {
				return fmt.Errorf("pathspec %s did not match any file", p)
			}
		default:
			return statErr
		}
	}
	if err := checkNames(todo); err != nil {
		return err
	}
	if r.Warn != nil {
		added := slices.Collect(maps.Keys(todo))
		all := slices.Clone(added)
		for _, e := range idx.Entries {
			if _, ok := todo[e.Path]; !ok {
				all = append(all, e.Path)
			}
		}
		for _, w := range portabilityWarnings(added, all) {
			r.Warn(w)
		}
	}
	if !opts.Force {
		for _, rel := range slices.Sorted(maps.Keys(todo)) {
			if isKeypairFile(r.abs(rel), todo[rel].Size()) {
				return &KeypairFileError{Path: rel}
			}
		}
	}
	if err := r.stage(ctx, idx, todo); err != nil {
		return err
	}
	return r.WriteIndex(idx)
}

// checkNames refuses paths a commit could not record: tree entry names
// are UTF-8 text (design §4), so a file whose name is other bytes would
// be staged and then stop every commit.
func checkNames(files map[string]fs.FileInfo) error {
	var bad []string
	for rel := range files {
		if !utf8.ValidString(rel) {
			bad = append(bad, rel)
		}
	}
	if len(bad) == 0 {
		for _, rel := range slices.Sorted(maps.Keys(files)) {
			for _, c := range strings.Split(rel, "/") {
				if objects.ReservedName(c) {
					return fmt.Errorf("cannot add %q: %q would be the repository directory %s on case-insensitive file systems (macOS, Windows), so no commit may hold it; rename it", rel, c, DirName)
				}
			}
		}
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("cannot add %q: file names must be valid UTF-8 (fed records names as UTF-8 text); rename the file", bad[0])
}

func under(p, dir string) bool {
	return dir == "" || strings.HasPrefix(p, dir+"/")
}

// stage hashes and stores files into the index, skipping those whose stat
// data shows them unchanged.
func (r *Repo) stage(ctx context.Context, idx *Index, files map[string]fs.FileInfo) error {
	names := make([]string, 0, len(files))
	var total int64
	for k, fi := range files {
		if e, ok := idx.Find(k); ok && idx.clean(e, fi) {
			continue
		}
		names = append(names, k)
		total += fi.Size()
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	r.Progress.Start("storing", total, "B")
	defer r.Progress.Done()
	// One flush for the objects of every file instead of an fsync of each
	// object and its directory (design §13, batches): a model of thousands
	// of small tensors is thousands of objects. They are published before
	// stage returns, so before the index refers to them.
	var entries []IndexEntry
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	err = disk.InBatch(func() error {
		var err error
		entries, err = r.stageFiles(ctx, idx, names)
		return err
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		idx.Set(e)
	}
	return nil
}

// stageFiles stores the files names and returns their index entries.
func (r *Repo) stageFiles(ctx context.Context, idx *Index, names []string) ([]IndexEntry, error) {
	w := objects.NewWriter(ctx, r.Objects)
	var entries []IndexEntry
	head, err := r.headFiles(ctx)
	if err != nil {
		head = nil // delta bases are an optimisation only
	}
	for _, rel := range names {
		parent := head[rel].ID
		if e, ok := idx.Find(rel); ok {
			parent = e.ID
		}
		before, err := os.Lstat(r.abs(rel))
		if err != nil {
			return nil, err
		}
		r.warnOpaque = true
		kind, id, err := r.importFile(ctx, w, r.abs(rel), rel, parent)
		r.warnOpaque = false
		if err != nil {
			return nil, err
		}
		e := IndexEntry{Path: rel, Kind: kind, ID: id}
		if old, ok := idx.Find(rel); ok && !fsys.ExecBits {
			e.Mode = old.Mode // no executable bit to read here: keep the staged one
		}
		statInfo(&e, before)
		entries = append(entries, e)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return entries, nil
}

// Remove unstages paths and, unless cached, deletes them from the
// working tree.
func (r *Repo) Remove(ctx context.Context, paths []string, cached, recursive bool) error {
	unlock, err := r.Lock(lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	var gone []string
	for _, p := range paths {
		rel, err := r.rel(p)
		if err != nil {
			return err
		}
		found := false
		for _, e := range append([]IndexEntry(nil), idx.Entries...) {
			if e.Path == rel || (under(e.Path, rel) && (recursive || rel == "")) {
				idx.Remove(e.Path)
				gone = append(gone, e.Path)
				found = true
			} else if under(e.Path, rel) && !recursive {
				return fmt.Errorf("not removing %s recursively without -r", p)
			}
		}
		if !found {
			return fmt.Errorf("pathspec %s did not match any tracked file", p)
		}
	}
	if err := r.WriteIndex(idx); err != nil {
		return err
	}
	if !cached {
		for _, g := range gone {
			if err := os.Remove(r.abs(g)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			r.pruneEmptyDirs(g)
		}
	}
	return nil
}

// pruneEmptyDirs removes the now-empty parent directories of rel.
func (r *Repo) pruneEmptyDirs(rel string) {
	d := filepath.Dir(r.abs(rel))
	for d != r.Root && strings.HasPrefix(d, r.Root) {
		if os.Remove(d) != nil {
			return
		}
		d = filepath.Dir(d)
	}
}

// FileState is one line of status.
type FileState struct {
	Path string
	// Staged is the change between HEAD and the index: 'A' added,
	// 'M' modified, 'D' deleted, 'U' conflicted, 0 none.
	Staged byte
	// Worktree is the change between the index and the working tree:
	// 'M', 'D', '?' untracked, 'W' not checked out because its weights
	// were withheld by their contributor (not a change), 0 none.
	Worktree byte
}

// Status compares HEAD, the index and the working tree. It refreshes the
// stat cache of files found unchanged, so the next call reads nothing.
func (r *Repo) Status(ctx context.Context) ([]FileState, error) {
	idx, err := r.ReadIndex()
	if err != nil {
		return nil, err
	}
	head, err := r.headFiles(ctx)
	if err != nil {
		return nil, err
	}
	ig, err := r.loadIgnore()
	if err != nil {
		return nil, err
	}
	files, err := r.scan("", ig)
	if err != nil {
		return nil, err
	}
	states := map[string]*FileState{}
	get := func(p string) *FileState {
		if s, ok := states[p]; ok {
			return s
		}
		s := &FileState{Path: p}
		states[p] = s
		return s
	}
	conflicted := idx.Conflicted()
	for _, p := range conflicted {
		get(p).Staged = 'U'
	}
	refreshed := false
	wf, err := r.withheldFiles()
	if err != nil {
		return nil, err
	}
	for i := range idx.Entries {
		e := &idx.Entries[i]
		if e.Stage != 0 {
			continue
		}
		if h, ok := head[e.Path]; !ok {
			get(e.Path).Staged = 'A'
		} else if h.ID != e.ID || h.Mode != e.Mode {
			get(e.Path).Staged = 'M'
		}
		fi, ok := files[e.Path]
		if !ok {
			if _, err := os.Lstat(r.abs(e.Path)); errors.Is(err, fs.ErrNotExist) {
				if wf.file(ctx, e.Kind, e.ID) {
					get(e.Path).Worktree = 'W'
				} else {
					get(e.Path).Worktree = 'D'
				}
			}
			continue
		}
		if idx.clean(e, fi) {
			continue
		}
		_, id, err := r.fileID(ctx, r.abs(e.Path), e.Path)
		if err != nil && !isFormatError(err) {
			return nil, err
		}
		var probe IndexEntry
		statInfo(&probe, fi)
		if id != e.ID || !sameMode(probe.Mode, e.Mode) {
			get(e.Path).Worktree = 'M'
			continue
		}
		statInfo(e, fi)
		refreshed = true
	}
	for p := range head {
		if _, ok := idx.Find(p); !ok && len(conflicted) == 0 {
			get(p).Staged = 'D'
		}
	}
	for p := range files {
		if _, ok := idx.Find(p); !ok {
			if s, ok := states[p]; !ok || s.Staged != 'U' {
				get(p).Worktree = '?'
			}
		}
	}
	if refreshed && !r.locked {
		// Best effort: only when no other command holds the lock.
		if unlock, err := r.Lock(time.Nanosecond); err == nil {
			if cur, err := r.ReadIndex(); err == nil && sameEntries(cur, idx) {
				_ = r.WriteIndex(idx)
			}
			unlock()
		}
	}
	out := make([]FileState, 0, len(states))
	for _, s := range states {
		if s.Staged != 0 || s.Worktree != 0 {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// sameEntries reports whether two indexes stage the same objects.
func sameEntries(a, b *Index) bool {
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		x, y := a.Entries[i], b.Entries[i]
		if x.Path != y.Path || x.ID != y.ID || x.Stage != y.Stage || x.Mode != y.Mode {
			return false
		}
	}
	return true
}
