package repometa

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// The files of a repository directory (doc.go).
const (
	SettingsFile = "fed-repo.json"
	PushLogFile  = "push.log"
	// settingsVersion is the version of fed-repo.json this fed writes
	// and reads.
	settingsVersion = 1
)

// settingsJSON is the content of fed-repo.json, members in this order.
type settingsJSON struct {
	Version       int       `json:"version"`
	Owner         string    `json:"owner"`
	Public        bool      `json:"public"`
	Protected     []string  `json:"protected"`
	Collaborators []string  `json:"collaborators"`
	Created       time.Time `json:"created"`
	NFT           string    `json:"nft,omitempty"`
}

// ZKFile reads and writes the zk settings kept in a repository
// directory's config file, whose format belongs to package repo (the
// hosting layer provides it).
type ZKFile interface {
	// ReadZK returns the zk settings set in dir's config (no empty
	// values).
	ReadZK(dir string) (map[string]string, error)
	// WriteZK sets the keys of set in dir's config, removing those whose
	// value is "", and saves it whole or not at all.
	WriteZK(dir string, set map[string]string) error
}

// Files is the Store of a repository kept as files in its directory.
// It keeps the settings and the id lists in memory once read: other
// processes may append to the id lists and the push log, but the
// settings of a repository are changed by one process (the server that
// serves it).
type Files struct {
	dir string
	zk  ZKFile

	mu       sync.Mutex // guards settings, and serialises writes
	settings Settings
	ids      map[IDList]map[objects.ID]bool // read on first use; replaced, never changed, by AddIDs
	zkMu     sync.Mutex
}

var _ Store = (*Files)(nil)

// CreateFiles writes the settings file of a new repository into dir
// (which exists), normalising s, and fsyncs it. It does not check whether
// dir already holds one: a new repository is made in a directory of its
// own and renamed into place (remote/server).
func CreateFiles(dir string, s Settings) error {
	s.Normalize()
	if err := writeSettings(dir, s); err != nil {
		return fmt.Errorf("create repository settings in %s: %w", dir, err)
	}
	return nil
}

// OpenFiles returns the Store of the repository in dir, reading its
// settings. zk keeps its zk settings (nil: ZK and UpdateZK are
// unsupported). A directory without a settings file gives an error
// wrapping ErrNotFound; a settings file of another version, one saying
// which fed release reads it.
func OpenFiles(dir string, zk ZKFile) (*Files, error) {
	s, err := readSettings(dir)
	if err != nil {
		return nil, err
	}
	return &Files{dir: dir, zk: zk, settings: s, ids: map[IDList]map[objects.ID]bool{}}, nil
}

// Dir returns the repository directory.
func (f *Files) Dir() string { return f.dir }

func readSettings(dir string) (Settings, error) {
	path := filepath.Join(dir, SettingsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, fmt.Errorf("%w: no %s in %s", ErrNotFound, SettingsFile, dir)
	}
	if err != nil {
		return Settings{}, err
	}
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", SettingsFile, err)
	}
	if j.Version != settingsVersion {
		return Settings{}, fmt.Errorf("settings version %d, this fed reads %d (a newer fed release is needed)", j.Version, settingsVersion)
	}
	s := Settings{Owner: j.Owner, Public: j.Public, Protected: j.Protected, Collaborators: j.Collaborators, Created: j.Created, NFT: j.NFT}
	s.Normalize()
	return s, nil
}

func writeSettings(dir string, s Settings) error {
	j := settingsJSON{Version: settingsVersion, Owner: s.Owner, Public: s.Public, Protected: s.Protected,
		Collaborators: s.Collaborators, Created: s.Created, NFT: s.NFT}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return fsys.WriteFile(filepath.Join(dir, SettingsFile), 0o600, b, []byte{'\n'})
}

// Settings returns the settings read at open or stored since.
func (f *Files) Settings(ctx context.Context) (Settings, error) {
	if err := ctx.Err(); err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings.Clone(), nil
}

// UpdateSettings changes the settings under f's lock and saves them.
func (f *Files) UpdateSettings(ctx context.Context, change func(*Settings) error) (Settings, error) {
	if err := ctx.Err(); err != nil {
		return Settings{}, fmt.Errorf("update settings: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.settings.Clone()
	if err := change(&s); err != nil {
		return f.settings.Clone(), err
	}
	s.Normalize()
	if err := writeSettings(f.dir, s); err != nil {
		return f.settings.Clone(), fmt.Errorf("save settings of %s: %w", f.dir, err)
	}
	f.settings = s
	return s.Clone(), nil
}

// ZK reads the zk settings through the ZKFile.
func (f *Files) ZK(ctx context.Context) (map[string]string, error) {
	if f.zk == nil {
		return nil, fmt.Errorf("zk settings of %s: %w", f.dir, errors.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("zk settings: %w", err)
	}
	f.zkMu.Lock()
	defer f.zkMu.Unlock()
	return f.zk.ReadZK(f.dir)
}

// UpdateZK changes the zk settings through the ZKFile, one change at a
// time.
func (f *Files) UpdateZK(ctx context.Context, set map[string]string, check func(map[string]string) error) (map[string]string, error) {
	if f.zk == nil {
		return nil, fmt.Errorf("zk settings of %s: %w", f.dir, errors.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("change zk settings: %w", err)
	}
	f.zkMu.Lock()
	defer f.zkMu.Unlock()
	cur, err := f.zk.ReadZK(f.dir)
	if err != nil {
		return nil, err
	}
	next := ApplyZK(cur, set)
	if check != nil {
		if err := check(next); err != nil {
			return nil, err
		}
	}
	if err := f.zk.WriteZK(f.dir, set); err != nil {
		return nil, err
	}
	return f.zk.ReadZK(f.dir)
}

// ApplyZK returns cur with the keys of set set, and those whose value is
// "" removed.
func ApplyZK(cur, set map[string]string) map[string]string {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range set {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// AppendPushLog appends entry and a newline to push.log and fsyncs it.
func (f *Files) AppendPushLog(ctx context.Context, entry []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append push log: %w", err)
	}
	if err := appendFile(filepath.Join(f.dir, PushLogFile), append(entry[:len(entry):len(entry)], '\n')); err != nil {
		return fmt.Errorf("append push log of %s: %w", f.dir, err)
	}
	return nil
}

// PushLog returns the lines of push.log.
func (f *Files) PushLog(ctx context.Context) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read push log: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, PushLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read push log of %s: %w", f.dir, err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" {
			out = append(out, []byte(line))
		}
	}
	return out, nil
}

func checkList(list IDList) error {
	if list != Withheld && list != Private {
		return fmt.Errorf("repometa: no id list %q", list)
	}
	return nil
}

// IDs returns the id list, read from its file on first use.
func (f *Files) IDs(ctx context.Context, list IDList) (map[objects.ID]bool, error) {
	if err := checkList(list); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s list: %w", list, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idsLocked(list)
}

func (f *Files) idsLocked(list IDList) (map[objects.ID]bool, error) {
	if m, ok := f.ids[list]; ok {
		return m, nil
	}
	m, err := readIDFile(filepath.Join(f.dir, string(list)))
	if err != nil {
		return nil, fmt.Errorf("read %s list: %w", list, err)
	}
	f.ids[list] = m
	return m, nil
}

// AddIDs appends the ids not yet listed to the list's file, fsyncs it,
// then publishes the grown set.
func (f *Files) AddIDs(ctx context.Context, list IDList, ids []objects.ID) error {
	if err := checkList(list); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add to %s list: %w", list, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := f.idsLocked(list)
	if err != nil {
		return err
	}
	var b strings.Builder
	next := cur
	for _, id := range ids {
		if next[id] {
			continue
		}
		if len(next) == len(cur) {
			next = maps.Clone(cur)
		}
		next[id] = true
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return nil
	}
	if err := appendFile(filepath.Join(f.dir, string(list)), []byte(b.String())); err != nil {
		return fmt.Errorf("add to %s list of %s: %w", list, f.dir, err)
	}
	f.ids[list] = next
	return nil
}

// readIDFile reads an id file (absent: empty). A line that is not an id
// (cut by a crash: its request was not applied) is skipped.
func readIDFile(path string) (map[objects.ID]bool, error) {
	fl, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[objects.ID]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	out := map[objects.ID]bool{}
	sc := bufio.NewScanner(fl)
	for sc.Scan() {
		if id, err := objects.ParseID(strings.TrimSpace(sc.Text())); err == nil {
			out[id] = true
		}
	}
	return out, sc.Err()
}

// appendFile appends data to path (created if missing) and fsyncs it. A
// last line cut short by a crash is ended first, so that it stays one
// damaged line that readers skip and does not swallow the first of data.
func appendFile(path string, data []byte) error {
	fl, err := fsys.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if fi, err := fl.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := fl.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	_, errW := fl.Write(data)
	errS := fl.Sync()
	errC := fl.Close()
	return errors.Join(errW, errS, errC)
}
