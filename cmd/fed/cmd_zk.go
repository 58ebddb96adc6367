package main

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

type zkOptions struct {
	action      string // setup, import, pin, unpin, list
	args        []string
	kind        string
	sides       int
	totalWeight uint64
	chunk       int
	linf        float64
	hasLinf     bool
	shape       string
	json        bool
}

func newZKCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "zk",
		Usage: "manage zero-knowledge proving and verifying keys",
		ArgsUsage: "[list] | setup [--kind commit|update|merge] [--sides N] [--total-weight W] |\n" +
			"   import --shape SHAPE PROVING_KEY VERIFYING_KEY | pin [KEY...] | unpin KEY...",
		Description: "Keys are made per circuit shape (kind, chunk size, bound or weight bits) and kept\n" +
			"in the key cache ($FED_ZK_CACHE, else ~/.cache/fed/zk).\n" +
			"  setup   makes development keys (single-party: whoever runs it can forge proofs).\n" +
			"          In a repository without --kind: the commitment circuit and, when zk.linf is\n" +
			"          set, the bounded-update circuit of its zk.chunk. --kind merge needs\n" +
			"          --sides (parents of the merge commit) and --total-weight (sum of the\n" +
			"          integer weights, default 256). 'fed prove --setup' makes exactly the keys\n" +
			"          each commit needs.\n" +
			"  import  stores ceremony keys from gnark's mpcsetup (phase 2 output, WriteTo) for SHAPE\n" +
			"          (as 'fed zk list' names shapes, e.g. v2-update-n8192-l12).\n" +
			"  pin     adds verifying keys (ids, or shapes in the cache) to the repository's zk.vk:\n" +
			"          verify then accepts proofs made with pinned keys only. No KEY: list pins.\n" +
			"  unpin   removes keys from zk.vk.\n" +
			"  list    lists the cached keys: shape, origin, verifying key id, pinned.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kind", Usage: "setup: circuit `KIND`: commit, update or merge"},
			&cli.IntFlag{Name: "sides", Usage: "setup --kind merge: number of parents `N`", Value: 2},
			&cli.Uint64Flag{Name: "total-weight", Usage: "setup --kind merge: largest sum `W` of the integer weights", Value: 256},
			&cli.IntFlag{Name: "chunk", Usage: "setup: values per proof `N`", DefaultText: "zk.chunk, else 8192"},
			&cli.Float64Flag{Name: "linf", Usage: "setup --kind update: bound `B`", DefaultText: "zk.linf"},
			&cli.StringFlag{Name: "shape", Usage: "import: circuit `SHAPE` of the keys"},
			&cli.BoolFlag{Name: "json", Usage: "list: print JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			opts := zkOptions{action: "list", kind: c.String("kind"), sides: c.Int("sides"), totalWeight: c.Uint64("total-weight"),
				chunk: c.Int("chunk"), linf: c.Float64("linf"), hasLinf: c.IsSet("linf"), shape: c.String("shape"), json: c.Bool("json")}
			if len(args) > 0 {
				opts.action, opts.args = args[0], args[1:]
			}
			return runZK(c.Context, opts, e)
		},
	}
}

func runZK(ctx context.Context, opts zkOptions, e *env) error {
	cache, err := e.zkCache()
	if err != nil {
		return err
	}
	switch opts.action {
	case "setup":
		if len(opts.args) > 0 {
			return usageErrorf("zk setup takes no arguments")
		}
		return runZKSetup(ctx, opts, e, cache)
	case "import":
		if len(opts.args) != 2 || opts.shape == "" {
			return usageErrorf("zk import takes --shape SHAPE PROVING_KEY VERIFYING_KEY")
		}
		return runZKImport(ctx, opts, e, cache)
	case "pin", "unpin":
		return runZKPin(opts, e, cache)
	case "list":
		if len(opts.args) > 0 {
			return usageErrorf("zk list takes no arguments")
		}
		return runZKList(opts, e, cache)
	}
	return usageErrorf("unknown zk action %q (setup, import, pin, unpin or list)", opts.action)
}

// zkShapes returns the shapes setup makes keys for.
func zkShapes(opts zkOptions, e *env) ([]zk.Shape, error) {
	var s proving.Settings
	r, err := e.openRepo(true)
	switch {
	case err == nil:
		if s, err = proving.ReadSettings(r); err != nil {
			return nil, err
		}
	case errors.Is(err, repo.ErrNotRepo) && opts.kind != "":
		s = proving.Settings{ChunkSize: zk.DefaultChunk}
	default:
		if errors.Is(err, repo.ErrNotRepo) {
			return nil, withHint(err, "outside a repository, name the circuit: 'fed zk setup --kind commit|update|merge --chunk N'")
		}
		return nil, err
	}
	if opts.chunk != 0 {
		s.ChunkSize = opts.chunk
	}
	if opts.hasLinf {
		s.Linf, s.HasLinf = opts.linf, true
	}
	update := func() (zk.Shape, error) {
		if !s.HasLinf {
			return zk.Shape{}, usageErrorf("the update circuit depends on the bound: set 'fed config zk.linf B' or pass --linf B")
		}
		b, err := zk.QuantBound(s.Linf)
		if err != nil {
			return zk.Shape{}, usageErrorf("%v", err)
		}
		st := zk.Statement{ChunkSize: s.ChunkSize, Parents: make([]*zk.Values, 1), Linf: b}
		return st.ShapeOf(), nil
	}
	var shapes []zk.Shape
	switch opts.kind {
	case "":
		shapes = append(shapes, zk.Shape{Kind: zk.KindCommit, N: s.ChunkSize})
		if s.HasLinf {
			u, err := update()
			if err != nil {
				return nil, err
			}
			shapes = append(shapes, u)
		}
	case "commit", "commitment":
		shapes = append(shapes, zk.Shape{Kind: zk.KindCommit, N: s.ChunkSize})
	case "update":
		u, err := update()
		if err != nil {
			return nil, err
		}
		shapes = append(shapes, u)
	case "merge":
		if opts.sides < 2 || opts.sides > zk.MaxParents {
			return nil, usageErrorf("--sides %d: a merge has 2 to %d parents", opts.sides, zk.MaxParents)
		}
		if opts.totalWeight < 1 || opts.totalWeight > 1<<40 {
			return nil, usageErrorf("--total-weight %d: must be in [1, 2^40]", opts.totalWeight)
		}
		st := zk.Statement{ChunkSize: s.ChunkSize, Parents: make([]*zk.Values, opts.sides), Weights: []uint64{opts.totalWeight}}
		shapes = append(shapes, st.ShapeOf())
	default:
		return nil, usageErrorf("--kind %q: want commit, update or merge", opts.kind)
	}
	for _, sh := range shapes {
		if err := sh.Validate(); err != nil {
			return nil, usageErrorf("circuit %s: %v", sh, err)
		}
	}
	return shapes, nil
}

func runZKSetup(ctx context.Context, opts zkOptions, e *env, cache *zk.Cache) error {
	shapes, err := zkShapes(opts, e)
	if err != nil {
		return err
	}
	for _, sh := range shapes {
		if sh.N >= 1024 {
			e.note("setting up %s: compiling the circuit and making keys takes minutes at this chunk size...\n", sh)
		}
		vk, err := cache.Setup(ctx, sh)
		if err != nil {
			return err
		}
		e.printf("%s: %s keys, verifying key %s\n", sh, vk.Origin, vk.ID)
	}
	e.note("note: keys made by 'fed zk setup' are development keys: whoever made them can forge proofs;\n" +
		"note: for proofs others can trust, import ceremony keys ('fed zk import') and pin them ('fed zk pin')\n")
	return nil
}

func runZKImport(ctx context.Context, opts zkOptions, e *env, cache *zk.Cache) error {
	sh, err := zk.ParseShape(opts.shape)
	if err != nil {
		return usageErrorf("--shape %q: %v", opts.shape, err)
	}
	pk, err := os.Open(e.path(opts.args[0]))
	if err != nil {
		return err
	}
	defer pk.Close()
	vkf, err := os.Open(e.path(opts.args[1]))
	if err != nil {
		return err
	}
	defer vkf.Close()
	vk, err := cache.Import(ctx, sh, pk, vkf)
	if err != nil {
		return err
	}
	e.printf("%s: %s keys, verifying key %s\n", sh, vk.Origin, vk.ID)
	e.note("pin it in a repository with 'fed zk pin %s'\n", vk.ID)
	return nil
}

// runZKPin adds or removes verifying keys in zk.vk.
func runZKPin(opts zkOptions, e *env, cache *zk.Cache) error {
	r, err := e.openRepo(true)
	if err != nil {
		return err
	}
	s, err := proving.ReadSettings(r)
	if err != nil {
		return err
	}
	if len(opts.args) == 0 {
		if opts.action == "unpin" {
			return usageErrorf("zk unpin takes KEY...")
		}
		for _, id := range s.Pinned {
			e.printf("%s\n", id)
		}
		return nil
	}
	pins := s.Pinned
	for _, a := range opts.args {
		id, vk, err := resolveKey(cache, a)
		if err != nil {
			return err
		}
		switch {
		case opts.action == "unpin":
			pins = slices.DeleteFunc(pins, func(x objects.ID) bool { return x == id })
		case !slices.Contains(pins, id):
			pins = append(pins, id)
			if vk != nil && vk.Origin == zk.Development {
				e.note("warning: %s is a development key (single-party setup): whoever made it can forge proofs\n", id.Short())
			}
		}
	}
	var hex []string
	for _, id := range pins {
		hex = append(hex, id.String())
	}
	if len(hex) == 0 {
		err = r.Config.Unset("zk.vk")
	} else {
		err = r.Config.Set("zk.vk", strings.Join(hex, ","))
	}
	if err != nil {
		return err
	}
	return r.Config.Save()
}

// resolveKey reads a verifying key id or a cached shape's key.
func resolveKey(cache *zk.Cache, s string) (objects.ID, *zk.VerifyingKey, error) {
	if id, err := objects.ParseID(s); err == nil {
		keys, _ := cache.List()
		for _, k := range keys {
			if k.ID == id {
				return id, k, nil
			}
		}
		return id, nil, nil
	}
	sh, err := zk.ParseShape(s)
	if err != nil {
		return objects.ZeroID, nil, usageErrorf("%q is neither a verifying key id (64 hex digits) nor a circuit shape", s)
	}
	vk, err := cache.VerifyingKey(sh)
	if err != nil {
		return objects.ZeroID, nil, err
	}
	return vk.ID, vk, nil
}

type zkKeyJSON struct {
	Shape  string     `json:"shape"`
	Origin string     `json:"origin"` // development or ceremony
	ID     objects.ID `json:"id"`
	Pinned bool       `json:"pinned"`
}

func runZKList(opts zkOptions, e *env, cache *zk.Cache) error {
	var pins []objects.ID
	if r, err := e.openRepo(true); err == nil {
		s, err := proving.ReadSettings(r)
		if err != nil {
			return err
		}
		pins = s.Pinned
	}
	keys, err := cache.List()
	if err != nil {
		return err
	}
	out := []zkKeyJSON{}
	for _, k := range keys {
		out = append(out, zkKeyJSON{Shape: k.Shape.String(), Origin: k.Origin.String(), ID: k.ID, Pinned: slices.Contains(pins, k.ID)})
	}
	if opts.json {
		return e.printJSON(out)
	}
	for _, k := range out {
		pinned := ""
		if k.Pinned {
			pinned = "  pinned"
		}
		e.printf("%-28s %-11s %s%s\n", k.Shape, k.Origin, k.ID, pinned)
	}
	if len(out) == 0 {
		e.note("no keys in %s; make development keys with 'fed zk setup'\n", cache.Dir)
	}
	return nil
}
