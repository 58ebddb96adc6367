package refs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

var (
	// ErrNotFound reports a ref (or HEAD) that does not exist.
	ErrNotFound = errors.New("refs: not found")
	// ErrStale reports a lost compare-and-swap: the ref no longer had the
	// expected value. Ref updates return it as a *StaleError.
	ErrStale = errors.New("refs: stale")
	// ErrConflict reports a ref that cannot exist beside another one
	// because one name is a directory prefix of the other
	// ("refs/heads/a" and "refs/heads/a/b").
	ErrConflict = errors.New("refs: name conflicts with an existing ref")
)

// StaleError reports a compare-and-swap lost on one ref. A zero Want means
// the ref was expected not to exist; a zero Got that it does not.
type StaleError struct {
	Name      Name
	Want, Got objects.ID
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("refs: stale ref %s: want %s, got %s", e.Name, describeID(e.Want), describeID(e.Got))
}

// Unwrap returns ErrStale.
func (e *StaleError) Unwrap() error { return ErrStale }

func describeID(id objects.ID) string {
	if id.IsZero() {
		return "(none)"
	}
	return id.String()
}

// Options tune a Store.
type Options struct {
	// LockTimeout bounds how long an update waits for a ref lock held by
	// another live process before failing with ErrLocked. Zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.LockTimeout < 0 {
		return fmt.Errorf("refs: negative lock timeout %v", o.LockTimeout)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return nil
}

// Store reads and updates the refs of one repository, kept as files under
// one directory (the repository's .fed directory). Any number of Stores, in
// any number of processes, may use the same directory at once.
type Store struct {
	dir  string
	opts Options
}

// Ref is a ref name and the id it holds.
type Ref struct {
	Name Name
	ID   objects.ID
}

// Head is the state of HEAD. When HEAD is symbolic, Symbolic names the
// branch it points to and ID is that branch's value (zero while the branch
// is unborn). When HEAD is detached, Symbolic is empty and ID is HEAD's id.
type Head struct {
	Symbolic Name
	ID       objects.ID
}

// Detached reports whether HEAD holds an id rather than a branch name.
func (h Head) Detached() bool { return h.Symbolic == "" }

// Update is one change in a Transaction: move Name from Old to New.
// A zero Old means the ref must not exist; a zero New deletes it. With
// Force the current value is not checked. The name "HEAD" means the branch
// HEAD points to (HEAD itself when detached).
type Update struct {
	Name     Name
	Old, New objects.ID
	Force    bool
}

// Open returns the Store for the refs under dir with default options.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith returns the Store for the refs under dir.
func OpenWith(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open refs %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open refs %s: not a directory", dir)
	}
	return &Store{dir: dir, opts: opts}, nil
}

// Init creates dir if needed, the directories refs/heads and refs/tags in
// it, and a HEAD pointing to the (unborn) branch head. It fails with an
// error wrapping fs.ErrExist when HEAD already exists.
func Init(dir string, head Name) (*Store, error) {
	if err := ValidateName(string(head)); err != nil || !strings.HasPrefix(string(head), "refs/") {
		return nil, fmt.Errorf("init refs %s: HEAD target %q is not a valid name under refs/", dir, head)
	}
	for _, d := range []string{"refs/heads", "refs/tags"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			return nil, fmt.Errorf("init refs %s: %w", dir, err)
		}
	}
	s, err := Open(dir)
	if err != nil {
		return nil, err
	}
	l, err := AcquireLock(s.refPath(HeadName)+".lock", s.opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("init refs %s: %w", dir, err)
	}
	defer l.Unlock()
	if _, err := os.Lstat(s.refPath(HeadName)); err == nil {
		return nil, fmt.Errorf("init refs %s: HEAD: %w", dir, fs.ErrExist)
	}
	if _, err := l.Write(formatHead(Head{Symbolic: head})); err != nil {
		return nil, fmt.Errorf("init refs %s: %w", dir, err)
	}
	if err := l.Commit(s.refPath(HeadName)); err != nil {
		return nil, fmt.Errorf("init refs %s: %w", dir, err)
	}
	return s, nil
}

// Dir returns the directory the refs live under.
func (s *Store) Dir() string { return s.dir }

func (s *Store) refPath(n Name) string {
	return filepath.Join(s.dir, filepath.FromSlash(string(n)))
}

func (s *Store) logPath(n Name) string {
	return filepath.Join(s.dir, "logs", filepath.FromSlash(string(n)))
}

// readFile returns the bytes of a ref or HEAD file (at most maxFileRead+1
// of them). A missing file or a directory gives ErrNotFound.
func readFile(path string) ([]byte, error) {
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, ErrNotFound
	}
	return io.ReadAll(io.LimitReader(f, maxFileRead+1))
}

// readID reads the ref file of n (not HEAD's symbolic form). A missing ref
// gives ErrNotFound.
func (s *Store) readID(n Name) (objects.ID, error) {
	path := s.refPath(n)
	b, err := readFile(path)
	if err != nil {
		return objects.ZeroID, err
	}
	id, reason := parseRef(b)
	if reason != "" {
		return objects.ZeroID, &MalformedError{Path: path, Reason: reason}
	}
	return id, nil
}

// readHeadFile reads HEAD without resolving it.
func (s *Store) readHeadFile() (Head, error) {
	path := s.refPath(HeadName)
	b, err := readFile(path)
	if err != nil {
		return Head{}, err
	}
	h, reason := parseHead(b)
	if reason != "" {
		return Head{}, &MalformedError{Path: path, Reason: reason}
	}
	return h, nil
}

// resolve returns the value of branch n, zero when it does not exist.
func (s *Store) resolve(n Name) (objects.ID, error) {
	id, err := s.readID(n)
	if errors.Is(err, ErrNotFound) {
		return objects.ZeroID, nil
	}
	return id, err
}

// Read returns the id ref name holds. "HEAD" is resolved through the branch
// it points to. A missing ref, or HEAD on an unborn branch, gives an error
// wrapping ErrNotFound; a malformed file a *MalformedError.
func (s *Store) Read(name Name) (objects.ID, error) {
	if err := ValidateName(string(name)); err != nil {
		return objects.ZeroID, fmt.Errorf("read ref: %w", err)
	}
	if name == HeadName {
		h, err := s.Head()
		if err != nil {
			return objects.ZeroID, fmt.Errorf("read ref HEAD: %w", err)
		}
		if h.ID.IsZero() {
			return objects.ZeroID, fmt.Errorf("read ref HEAD: branch %s is unborn: %w", h.Symbolic, ErrNotFound)
		}
		return h.ID, nil
	}
	id, err := s.readID(name)
	if err != nil {
		return objects.ZeroID, fmt.Errorf("read ref %s: %w", name, err)
	}
	return id, nil
}

// Head returns the state of HEAD. A missing HEAD gives ErrNotFound.
func (s *Store) Head() (Head, error) {
	h, err := s.readHeadFile()
	if err != nil {
		return Head{}, fmt.Errorf("read HEAD: %w", err)
	}
	if h.Symbolic != "" {
		if h.ID, err = s.resolve(h.Symbolic); err != nil {
			return Head{}, fmt.Errorf("read HEAD: %w", err)
		}
	}
	return h, nil
}

// List returns the refs under refs/ whose full names start with prefix
// ("" for all, "refs/heads/" for branches), sorted by name. Files whose
// names are not valid ref names (editor backups, lock files) are skipped;
// a malformed ref file is an error.
func (s *Store) List(prefix string) ([]Ref, error) {
	root := "refs"
	if strings.HasPrefix(prefix, "refs/") {
		root = prefix[:strings.LastIndex(prefix, "/")]
	} else if prefix != "" && !strings.HasPrefix("refs/", prefix) {
		return nil, nil
	}
	var refs []Ref
	err := filepath.WalkDir(filepath.Join(s.dir, filepath.FromSlash(root)), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) || ValidateName(name) != nil {
			return nil
		}
		id, err := s.readID(Name(name))
		if errors.Is(err, ErrNotFound) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		refs = append(refs, Ref{Name: Name(name), ID: id})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs %q: %w", prefix, err)
	}
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return refs, nil
}

// Update moves ref name from old to new if it holds old (compare-and-swap;
// see Update the type and Transaction).
func (s *Store) Update(name Name, old, new objects.ID, msg Entry) error {
	return s.Transaction([]Update{{Name: name, Old: old, New: new}}, msg)
}

// UpdateHead moves the branch HEAD points to from old to new, logging to
// the branch's reflog and to HEAD's; when HEAD is detached it moves HEAD
// itself.
func (s *Store) UpdateHead(old, new objects.ID, msg Entry) error {
	return s.Transaction([]Update{{Name: HeadName, Old: old, New: new}}, msg)
}

// op is one Update as planned against a HEAD target.
type op struct {
	u       Update
	real    Name       // the file that changes: u.Name, or HEAD's branch
	logHead bool       // also append to logs/HEAD
	cur     objects.ID // value under lock
	lock    *Lock
}

// maxHeadRetries bounds how often a transaction starts over because HEAD
// was pointed elsewhere while it was locking.
const maxHeadRetries = 10

// Transaction applies several updates all or nothing. It locks every ref
// involved in sorted name order, checks every Old, and only if all match
// writes every New and appends the reflogs, then releases the locks. If
// any ref is stale nothing changes and the *StaleError of the first stale
// ref (in the order given) is returned. Refs under refs/ and HEAD get a
// reflog line; other pseudo-refs (MERGE_HEAD) do not. Deleting a ref
// deletes its reflog.
//
// Other Transactions never see a partial result. A crash between the
// renames of a multi-ref transaction, however, can leave a prefix of it
// applied, as with git's loose refs.
func (s *Store) Transaction(updates []Update, msg Entry) error {
	if len(updates) == 0 {
		return nil
	}
	for _, u := range updates {
		if err := ValidateName(string(u.Name)); err != nil {
			return fmt.Errorf("update refs: %w", err)
		}
	}
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	for attempt := 0; attempt < maxHeadRetries; attempt++ {
		target, err := s.headTarget(updates)
		if err != nil {
			return err
		}
		done, err := s.tryTransaction(updates, target, msg)
		if done {
			return err
		}
	}
	return fmt.Errorf("update refs %s: HEAD kept changing", describeUpdates(updates))
}

func describeUpdates(updates []Update) string {
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = string(u.Name)
	}
	return strings.Join(names, ", ")
}

// headTarget returns the branch HEAD points to, "" when HEAD is detached or
// missing. A malformed HEAD is an error only if an update names HEAD.
func (s *Store) headTarget(updates []Update) (Name, error) {
	h, err := s.readHeadFile()
	if err == nil {
		return h.Symbolic, nil
	}
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	for _, u := range updates {
		if u.Name == HeadName {
			return "", fmt.Errorf("update ref HEAD: %w", err)
		}
	}
	return "", nil
}

// tryTransaction runs the transaction assuming HEAD points to target. It
// returns done=false, having changed nothing, when HEAD turns out to point
// elsewhere once locked.
func (s *Store) tryTransaction(updates []Update, target Name, msg Entry) (done bool, err error) {
	ops := make([]*op, len(updates))
	byReal := make(map[Name]*op, len(updates))
	lockHead := false
	for i, u := range updates {
		o := &op{u: u, real: u.Name}
		switch {
		case u.Name == HeadName && target != "":
			o.real, o.logHead = target, true
		case u.Name == HeadName && u.New.IsZero():
			return true, fmt.Errorf("update ref HEAD: cannot delete a detached HEAD")
		case target != "" && u.Name == target:
			o.logHead = true
		}
		if prev, ok := byReal[o.real]; ok {
			return true, fmt.Errorf("update refs: %s and %s both change %s", prev.u.Name, u.Name, o.real)
		}
		byReal[o.real] = o
		ops[i] = o
		lockHead = lockHead || o.logHead || o.real == HeadName
	}
	if err := s.checkPrefixConflicts(ops); err != nil {
		return true, err
	}

	// Lock in sorted order, so that transactions over overlapping refs
	// cannot wait on each other in a cycle.
	names := make([]Name, 0, len(ops)+1)
	for n := range byReal {
		names = append(names, n)
	}
	var headOnly *Lock // HEAD locked only to log to it
	if lockHead && byReal[HeadName] == nil {
		names = append(names, HeadName)
	}
	slices.Sort(names)
	var held []*Lock
	defer func() {
		for _, l := range held {
			l.Unlock() // only closes locks already renamed or released
		}
	}()
	deadline := time.Now().Add(s.opts.LockTimeout)
	for _, n := range names {
		wait := time.Until(deadline)
		if wait <= 0 {
			wait = time.Nanosecond
		}
		l, err := AcquireLock(s.refPath(n)+".lock", wait)
		if err != nil {
			return true, fmt.Errorf("update ref %s: %w", n, err)
		}
		held = append(held, l)
		if o := byReal[n]; o != nil {
			o.lock = l
		} else {
			headOnly = l
		}
	}
	if lockHead {
		h, err := s.readHeadFile()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return true, fmt.Errorf("update ref HEAD: %w", err)
		}
		if h.Symbolic != target {
			return false, nil
		}
	}

	// Check every ref before changing any.
	for _, o := range ops {
		if o.real == HeadName {
			h, err := s.readHeadFile()
			if err != nil && !errors.Is(err, ErrNotFound) {
				return true, fmt.Errorf("update ref HEAD: %w", err)
			}
			o.cur = h.ID
		} else if o.cur, err = s.resolve(o.real); err != nil {
			return true, fmt.Errorf("update ref %s: %w", o.u.Name, err)
		}
		if !o.u.Force && o.cur != o.u.Old {
			return true, &StaleError{Name: o.u.Name, Want: o.u.Old, Got: o.cur}
		}
		if o.cur.IsZero() && !o.u.New.IsZero() {
			if err := s.checkDirConflict(o.real); err != nil {
				return true, err
			}
		}
	}

	// Write the new values into the locks and append the reflog lines,
	// then make all of them durable at once (their fsyncs issued together,
	// which the file system commits as one), then rename.
	var durable []syncFile
	for _, o := range ops {
		if o.u.New.IsZero() {
			continue
		}
		if _, err := o.lock.Write(formatRef(o.u.New)); err != nil {
			return true, fmt.Errorf("update ref %s: %w", o.u.Name, err)
		}
		durable = append(durable, syncFile{o.lock.f, fmt.Sprintf("update ref %s", o.u.Name)})
	}
	var logs []*os.File
	defer func() {
		for _, f := range logs {
			f.Close()
		}
	}()
	for _, o := range ops {
		if o.cur.IsZero() && o.u.New.IsZero() {
			continue // nothing to delete
		}
		line := formatLogLine(LogEntry{Old: o.cur, New: o.u.New, Entry: msg})
		var names []Name
		if !o.u.New.IsZero() && logged(o.real) {
			names = append(names, o.real)
		}
		if o.logHead {
			names = append(names, HeadName)
		}
		for _, n := range names {
			f, err := s.appendLog(n, line)
			if err != nil {
				return true, fmt.Errorf("update ref %s: %w", o.u.Name, err)
			}
			logs = append(logs, f)
			durable = append(durable, syncFile{f, fmt.Sprintf("update ref %s: append reflog %s", o.u.Name, s.logPath(n))})
		}
	}
	if err := syncAll(durable); err != nil {
		return true, err
	}
	var closeErr error
	for _, f := range logs {
		if err := f.Close(); err != nil && closeErr == nil {
			closeErr = fmt.Errorf("update refs: append reflog %s: %w", f.Name(), err)
		}
	}
	logs = nil
	if closeErr != nil {
		return true, closeErr
	}
	dirs := map[string]bool{}
	var errs []error
	for _, o := range ops {
		path := s.refPath(o.real)
		dirs[filepath.Dir(path)] = true
		if !o.u.New.IsZero() {
			if err := o.lock.rename(path); err != nil {
				errs = append(errs, fmt.Errorf("update ref %s: %w", o.u.Name, err))
			}
			continue
		}
		if o.cur.IsZero() {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete ref %s: %w", o.u.Name, err))
			continue
		}
		if err := os.Remove(s.logPath(o.real)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete reflog of %s: %w", o.u.Name, err))
		}
	}
	if len(dirs) == 1 {
		for d := range dirs {
			if err := fsys.SyncDir(d); err != nil {
				errs = append(errs, fmt.Errorf("update refs: sync %s: %w", d, err))
			}
		}
	} else {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for d := range dirs {
			wg.Go(func() {
				if err := fsys.SyncDir(d); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("update refs: sync %s: %w", d, err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	for _, o := range ops {
		if err := o.lock.Unlock(); err != nil { // closes a renamed lock
			errs = append(errs, fmt.Errorf("update ref %s: %w", o.u.Name, err))
		}
		if o.u.New.IsZero() && !o.cur.IsZero() {
			s.pruneDirs(o.real)
		}
	}
	if headOnly != nil {
		if err := headOnly.Unlock(); err != nil {
			errs = append(errs, err)
		}
	}
	return true, errors.Join(errs...)
}

// logged reports whether ref n keeps a reflog: HEAD and everything under
// refs/, not other pseudo-refs.
func logged(n Name) bool {
	return n == HeadName || strings.HasPrefix(string(n), "refs/")
}

// checkPrefixConflicts refuses to create a ref below an existing ref file
// ("refs/heads/a/b" when "refs/heads/a" exists), or two refs in one
// transaction where one name is a directory prefix of the other.
func (s *Store) checkPrefixConflicts(ops []*op) error {
	for _, o := range ops {
		if o.u.New.IsZero() {
			continue
		}
		n := string(o.real)
		for i := strings.IndexByte(n, '/'); i >= 0; i = next(n, i) {
			prefix := Name(n[:i])
			if prefix == "refs" {
				continue
			}
			if fi, err := os.Lstat(s.refPath(prefix)); err == nil && !fi.IsDir() {
				return fmt.Errorf("create ref %s: %w %s", o.real, ErrConflict, prefix)
			}
			for _, p := range ops {
				if p.real == prefix && !p.u.New.IsZero() {
					return fmt.Errorf("create ref %s: %w %s", o.real, ErrConflict, prefix)
				}
			}
		}
	}
	return nil
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// checkDirConflict refuses to create ref n where a directory of other refs
// stands. An empty directory (left by a crash) is removed.
func (s *Store) checkDirConflict(n Name) error {
	path := s.refPath(n)
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return nil
	}
	if os.Remove(path) == nil {
		return nil
	}
	return fmt.Errorf("create ref %s: %w under %s/", n, ErrConflict, n)
}

// pruneDirs removes the directories of a deleted ref and its reflog that
// became empty, keeping refs/<kind> and logs/refs/<kind>.
func (s *Store) pruneDirs(n Name) {
	for _, root := range []string{s.dir, filepath.Join(s.dir, "logs")} {
		parts := strings.Split(string(n), "/")
		for len(parts) > 3 {
			parts = parts[:len(parts)-1]
			if os.Remove(filepath.Join(root, filepath.FromSlash(strings.Join(parts, "/")))) != nil {
				break // not empty, or gone
			}
		}
	}
}

// syncFile is a file to fsync and what to call a failure.
type syncFile struct {
	f    *os.File
	what string
}

// syncAll fsyncs the files, all at once (one goroutine each beyond the
// first), and returns the first failure.
func syncAll(files []syncFile) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := 1; i < len(files); i++ {
		wg.Go(func() { errs[i] = files[i].f.Sync() })
	}
	if len(files) > 0 {
		errs[0] = files[0].f.Sync()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", files[i].what, err)
		}
	}
	return nil
}

// appendLog appends one line to the reflog of n and returns the file,
// open, for the caller to fsync and close.
func (s *Store) appendLog(n Name, line string) (*os.File, error) {
	path := s.logPath(n)
	var f *os.File
	var err error
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("append reflog %s: %w", path, err)
		}
		f, err = fsys.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if !errors.Is(err, fs.ErrNotExist) {
			break // a concurrent delete may prune the directory: retry
		}
	}
	if err != nil {
		return nil, fmt.Errorf("append reflog %s: %w", path, err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return nil, fmt.Errorf("append reflog %s: %w", path, err)
	}
	return f, nil
}

// Reflog returns the reflog of name, oldest first; empty when it has none.
// A last line without its newline (an append cut short by a crash) is
// ignored; any other malformed line is a *MalformedError naming the file
// and line.
func (s *Store) Reflog(name Name) ([]LogEntry, error) {
	if err := ValidateName(string(name)); err != nil {
		return nil, fmt.Errorf("read reflog: %w", err)
	}
	path := s.logPath(name)
	b, err := fsys.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read reflog %s: %w", name, err)
	}
	entries, err := parseLog(path, b)
	if err != nil {
		return nil, fmt.Errorf("read reflog %s: %w", name, err)
	}
	return entries, nil
}

// parseLog parses the bytes of a reflog file.
func parseLog(path string, b []byte) ([]LogEntry, error) {
	lines := strings.Split(string(b), "\n")
	// What follows the last newline is empty in a whole file, and a torn
	// append otherwise: either way it is dropped.
	lines = lines[:len(lines)-1]
	entries := make([]LogEntry, 0, len(lines))
	for i, l := range lines {
		e, reason := parseLogLine(l)
		if reason != "" {
			return nil, &MalformedError{Path: path, Line: i + 1, Reason: reason}
		}
		entries = append(entries, e)
	}
	return entries, nil
}
