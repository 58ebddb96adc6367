package layering

import (
	"encoding/json"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCmdThroughRepo: cmd/fed reads refs and objects through repo's
// methods (ReadRef, ListRefs, ReadCommit, …), never through the fields
// Objects and Refs of a *repo.Repo, whose types are the stores a hosted
// repository replaces. (Its tests may: the testscripts' commands that
// tamper with a repository on purpose.) The check type-checks cmd/fed
// against the export data of its dependencies, so it sees every use,
// whatever the variable is called.
func TestCmdThroughRepo(t *testing.T) {
	out, err := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export", mod+"cmd/fed").Output()
	if err != nil {
		t.Skipf("go list -export is not available here: %v", err)
	}
	exports := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
	}
	dir := filepath.Join("..", "..", "cmd", "fed")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue // another system's file
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})}
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
	if _, err := conf.Check(mod+"cmd/fed", fset, files, info); err != nil {
		t.Fatalf("type-checking cmd/fed: %v", err)
	}
	for sel, s := range info.Selections {
		if s.Kind() != types.FieldVal || s.Obj().Name() != "Objects" && s.Obj().Name() != "Refs" {
			continue
		}
		recv := s.Recv()
		if p, ok := recv.(*types.Pointer); ok {
			recv = p.Elem()
		}
		if n, ok := recv.(*types.Named); ok && n.Obj().Name() == "Repo" && n.Obj().Pkg().Path() == mod+"repo" {
			t.Errorf("%s: cmd/fed reaches through repo.Repo's %s; give repo a method for what it needs", fset.Position(sel.Pos()), s.Obj().Name())
		}
	}
}
