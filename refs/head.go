package refs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// SetHead points HEAD at a branch (new.Symbolic, whose value is left
// alone; new.ID is ignored) or detaches it at new.ID, whatever HEAD held
// before. It appends to HEAD's reflog a line from the id HEAD resolved to
// before to the id it resolves to now, unless both are zero. SetHead also
// repairs a malformed HEAD.
func (s *Store) SetHead(new Head, msg Entry) error {
	return s.setHead(nil, new, msg)
}

// SwapHead is SetHead as a compare-and-swap on the HEAD file: it changes
// HEAD only if HEAD points to old.Symbolic, or, when old.Symbolic is empty,
// is detached at old.ID (a zero old.ID meaning HEAD must not exist).
// old.ID is ignored when old.Symbolic is set, so the result of Head can be
// passed as old. On a mismatch it returns an error wrapping ErrStale.
func (s *Store) SwapHead(old, new Head, msg Entry) error {
	return s.setHead(&old, new, msg)
}

func (s *Store) setHead(old *Head, new Head, msg Entry) error {
	if new.Symbolic != "" {
		if err := ValidateName(string(new.Symbolic)); err != nil || !strings.HasPrefix(string(new.Symbolic), "refs/") {
			return fmt.Errorf("set HEAD: target %q is not a valid name under refs/", new.Symbolic)
		}
		new.ID = objects.ZeroID
	} else if new.ID.IsZero() {
		return fmt.Errorf("set HEAD: neither a branch nor an id given")
	}
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	l, err := AcquireLock(s.refPath(HeadName)+".lock", s.opts.LockTimeout)
	if err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	defer l.Unlock()

	cur, err := s.readHeadFile()
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil && old != nil:
		return fmt.Errorf("set HEAD: %w", err)
	case err != nil:
		cur = Head{} // SetHead overwrites a malformed HEAD
	}
	if old != nil && !sameHeadFile(*old, cur) {
		return fmt.Errorf("set HEAD: want %s, got %s: %w", describeHead(*old), describeHead(cur), ErrStale)
	}
	oldID := cur.ID
	if cur.Symbolic != "" {
		if oldID, err = s.resolve(cur.Symbolic); err != nil {
			oldID = objects.ZeroID // a malformed old branch does not block moving away
		}
	}
	newID := new.ID
	if new.Symbolic != "" {
		if newID, err = s.resolve(new.Symbolic); err != nil {
			return fmt.Errorf("set HEAD: %w", err)
		}
	}
	if _, err := l.Write(formatHead(new)); err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	if !oldID.IsZero() || !newID.IsZero() {
		line := formatLogLine(LogEntry{Old: oldID, New: newID, Entry: msg})
		f, err := s.appendLog(HeadName, line)
		if err != nil {
			return fmt.Errorf("set HEAD: %w", err)
		}
		err = errors.Join(f.Sync(), f.Close())
		if err != nil {
			return fmt.Errorf("set HEAD: append reflog %s: %w", s.logPath(HeadName), err)
		}
	}
	if err := l.Commit(s.refPath(HeadName)); err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	return nil
}

// sameHeadFile reports whether HEAD file contents cur match the expected
// old (see SwapHead).
func sameHeadFile(old, cur Head) bool {
	if old.Symbolic != "" {
		return cur.Symbolic == old.Symbolic
	}
	return cur.Symbolic == "" && cur.ID == old.ID
}

func describeHead(h Head) string {
	if h.Symbolic != "" {
		return symrefPrefix + string(h.Symbolic)
	}
	if h.ID.IsZero() {
		return "(no HEAD)"
	}
	return "detached at " + h.ID.String()
}
