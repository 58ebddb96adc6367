package mergeexec

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/internal/textdiff"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// planText merges a file several sides changed when every side and the
// base (if it has the file) hold text (textdiff.IsText): line by line,
// folding the sides into the first in side order with textdiff.Merge3
// against the base; a .json file whose lines conflict merges key by key
// (textdiff.MergeJSON) when that resolves it. clean is false for a conflict; with two sides the
// working tree then gets the file with git's conflict markers
// (p.markers), labelled with the revisions' names.
func (r *runner) planText(ctx context.Context, p *mergePlan, path string, b repo.TreeFile, inB bool, vals []repo.TreeFile, present []bool) (clean bool, err error) {
	read := func(f repo.TreeFile) ([]byte, bool, error) {
		if f.Kind != objects.KindBlob {
			return nil, false, nil
		}
		var buf bytes.Buffer
		if err := objects.WriteFileTo(ctx, r.Objects, f.ID, &buf); err != nil {
			return nil, false, fmt.Errorf("merge %s: %w", path, err)
		}
		return buf.Bytes(), textdiff.IsText(buf.Bytes()), nil
	}
	var base []string
	var baseRaw []byte
	if inB {
		bb, ok, err := read(b)
		if err != nil || !ok {
			return false, err
		}
		base, baseRaw = textdiff.Split(bb), bb
	}
	raws := make([][]byte, len(vals))
	sides := make([][]string, len(vals))
	for i, v := range vals {
		if !present[i] {
			return false, nil // deleted on one side, changed on another
		}
		sb, ok, err := read(v)
		if err != nil || !ok {
			return false, err
		}
		sides[i], raws[i] = textdiff.Split(sb), sb
	}
	cur, conflicts := sides[0], 0
	for i := 1; i < len(sides) && conflicts == 0; i++ {
		cur, conflicts = textdiff.Merge3(base, cur, sides[i], p.labels[0], p.labels[i])
	}
	out := strings.Join(cur, "")
	if conflicts > 0 && strings.HasSuffix(strings.ToLower(path), ".json") {
		// key by key where lines cannot
		if m, ok := textdiff.MergeJSON(baseRaw, raws); ok {
			out, conflicts = string(m), 0
		}
	}
	id, _, err := p.w.Blob(strings.NewReader(out))
	if err != nil {
		return false, fmt.Errorf("merge %s: %w", path, err)
	}
	f := repo.TreeFile{Mode: vals[0].Mode, Kind: objects.KindBlob, ID: id}
	if conflicts == 0 {
		p.result[path] = f
		return true, nil
	}
	if len(sides) == 2 {
		p.markers[path] = f
	}
	return false, nil
}
