package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// ResolveRef resolves a name to the ref it means, trying in order: the
// full name, refs/heads/, refs/tags/, refs/remotes/. It returns the ref
// name and its id.
func (r *Repo) ResolveRef(name string) (refs.Name, objects.ID, error) {
	if name == "HEAD" || name == "@" {
		h, err := r.Refs.Head()
		if err != nil {
			return "", objects.ZeroID, err
		}
		if h.ID.IsZero() {
			return "", objects.ZeroID, fmt.Errorf("%w: HEAD (branch %s has no commits yet)", ErrUnknownRev, h.Symbolic.Short())
		}
		return "HEAD", h.ID, nil
	}
	for _, full := range []string{name, refs.HeadsPrefix + name, refs.TagsPrefix + name, refs.RemotesPrefix + name} {
		if !strings.HasPrefix(full, "refs/") && full != name {
			continue
		}
		if refs.ValidateName(full) != nil {
			continue
		}
		id, err := r.Refs.Read(refs.Name(full))
		if err == nil {
			return refs.Name(full), id, nil
		}
		if !errors.Is(err, refs.ErrNotFound) {
			return "", objects.ZeroID, err
		}
	}
	return "", objects.ZeroID, fmt.Errorf("%w: %s", ErrUnknownRev, name)
}

// ResolvePrefix finds the object whose id starts with the hex prefix.
func (r *Repo) ResolvePrefix(prefix string) (objects.ID, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) == 2*objects.IDSize {
		id, err := objects.ParseID(prefix)
		if err != nil {
			return id, err
		}
		if ok, _ := r.Objects.Has(context.Background(), id); !ok {
			return id, fmt.Errorf("%w: object %s not in this repository", ErrUnknownRev, prefix)
		}
		return id, nil
	}
	disk, err := r.Disk()
	if err != nil {
		return objects.ZeroID, fmt.Errorf("%w: abbreviated id %s: give the whole id (%v)", ErrUnknownRev, prefix, err)
	}
	names, err := os.ReadDir(filepath.Join(disk.Dir(), prefix[:2]))
	if err != nil && !os.IsNotExist(err) {
		return objects.ZeroID, err
	}
	var found []objects.ID
	for _, n := range names {
		if strings.HasPrefix(n.Name(), prefix[2:]) && !strings.HasPrefix(n.Name(), ".") {
			if id, err := objects.ParseID(prefix[:2] + n.Name()); err == nil {
				found = append(found, id)
			}
		}
	}
	// Prefer commits and tags when a prefix is ambiguous among other kinds.
	if len(found) > 1 {
		var named []objects.ID
		for _, id := range found {
			if b, err := r.Objects.Get(context.Background(), id); err == nil {
				if k, _ := objects.PeekKind(b); k == objects.KindCommit || k == objects.KindTag {
					named = append(named, id)
				}
			}
		}
		if len(named) == 1 {
			return named[0], nil
		}
		return objects.ZeroID, fmt.Errorf("%w: %s is ambiguous (%d objects); use more digits", ErrUnknownRev, prefix, len(found))
	}
	if len(found) == 0 {
		return objects.ZeroID, fmt.Errorf("%w: %s", ErrUnknownRev, prefix)
	}
	return found[0], nil
}

// Resolve parses a revision — a full or abbreviated id, a branch, tag or
// remote-tracking name, HEAD, a reflog entry (NAME@{N}, @{N}, @{-N}; see
// resolveReflog), followed by any of ~N and ^N — and returns
// the commit it names (tags are peeled).
func (r *Repo) Resolve(ctx context.Context, rev string) (objects.ID, error) {
	if rev == "" {
		return objects.ZeroID, fmt.Errorf("%w: empty revision", ErrUnknownRev)
	}
	base := rev
	i := strings.IndexAny(rev, "~^")
	if i >= 0 {
		base = rev[:i]
	}
	if base == "" {
		return objects.ZeroID, fmt.Errorf("%w: %s", ErrUnknownRev, rev)
	}
	id, isReflog, err := r.resolveReflog(base)
	if !isReflog {
		_, id, err = r.ResolveRef(base)
	}
	if errors.Is(err, ErrUnknownRev) && !isReflog && objects.IsHexPrefix(base) {
		id, err = r.ResolvePrefix(base)
	}
	if err != nil {
		return objects.ZeroID, err
	}
	id, err = r.peel(ctx, id, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	if i < 0 {
		return id, nil
	}
	s := rev[i:]
	for s != "" {
		op := s[0]
		s = s[1:]
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n := 1
		if j > 0 {
			n, err = strconv.Atoi(s[:j])
			if err != nil {
				return objects.ZeroID, fmt.Errorf("%w: %s", ErrUnknownRev, rev)
			}
		}
		s = s[j:]
		if op == '^' && j == 0 && strings.HasPrefix(s, "{") {
			return objects.ZeroID, fmt.Errorf("%w: %s: ^{...} is not supported", ErrUnknownRev, rev)
		}
		if op != '~' && op != '^' {
			return objects.ZeroID, fmt.Errorf("%w: %s", ErrUnknownRev, rev)
		}
		steps, parent := n, 1
		if op == '^' {
			steps, parent = 1, n
			if n == 0 {
				continue // REV^0 is REV itself
			}
		}
		for k := 0; k < steps; k++ {
			c, err := objects.ReadCommit(ctx, r.Objects, id)
			if err != nil {
				return objects.ZeroID, r.absentCommit(ctx, rev, id, err)
			}
			if parent > len(c.Parents) {
				return objects.ZeroID, fmt.Errorf("%w: %s: commit %s has %d parent(s)", ErrUnknownRev, rev, id.Short(), len(c.Parents))
			}
			id = c.Parents[parent-1]
		}
	}
	if ok, err := r.Objects.Has(ctx, id); err == nil && !ok {
		return objects.ZeroID, r.absentCommit(ctx, rev, id, objects.ErrNotFound)
	}
	return id, nil
}

// absentCommit explains a commit that rev reaches but this repository
// does not hold: in a shallow clone, one beyond its depth.
func (r *Repo) absentCommit(ctx context.Context, rev string, id objects.ID, err error) error {
	if !errors.Is(err, objects.ErrNotFound) {
		return err
	}
	if shallow, serr := r.Shallow(); serr == nil && len(shallow) > 0 {
		return fmt.Errorf("%w: %s: commit %s is beyond the history this shallow clone holds (it was cloned or fetched with --depth)", ErrUnknownRev, rev, id.Short())
	}
	return fmt.Errorf("%w: %s: commit %s is not in this repository: %w", ErrUnknownRev, rev, id.Short(), err)
}

// Peel follows tag objects from id to the commit they name at last;
// rev names id in errors.
func (r *Repo) Peel(ctx context.Context, id objects.ID, rev string) (objects.ID, error) {
	return r.peel(ctx, id, rev)
}

// peel follows tags to the commit they name.
func (r *Repo) peel(ctx context.Context, id objects.ID, rev string) (objects.ID, error) {
	for depth := 0; depth < 16; depth++ {
		o, err := objects.Read(ctx, r.Objects, id, 0)
		if err != nil {
			return objects.ZeroID, err
		}
		switch o := o.(type) {
		case *objects.Commit:
			return id, nil
		case *objects.Tag:
			id = o.Target
		default:
			return objects.ZeroID, fmt.Errorf("%w: %s names a %s, not a commit", ErrUnknownRev, rev, o.Kind())
		}
	}
	return objects.ZeroID, fmt.Errorf("%w: %s: tag chain too long", ErrUnknownRev, rev)
}
