package server

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// An id file is a repository's append-only list of object ids, one
// lowercase hex id and "\n" per line (the withheld and private lists,
// doc/protocol.md). Appends are flushed before the request that made them
// is answered; a line cut by a crash is ignored on reading, since its
// request was not applied.

// readIDFile reads an id file (absent: empty).
func readIDFile(path string) (map[objects.ID]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[objects.ID]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[objects.ID]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, err := objects.ParseID(strings.TrimSpace(sc.Text())); err == nil {
			out[id] = true
		}
	}
	return out, sc.Err()
}

// appendIDFile appends to the id file at path the ids that set lacks,
// syncs it, then adds them to set.
func appendIDFile(path string, set map[objects.ID]bool, ids []objects.ID) error {
	var b strings.Builder
	var added []objects.ID
	for _, id := range ids {
		if !set[id] {
			b.WriteString(id.String())
			b.WriteByte('\n')
			added = append(added, id)
		}
	}
	if len(added) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, id := range added {
		set[id] = true
	}
	return nil
}
