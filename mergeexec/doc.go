// Package mergeexec executes `fed merge` and `fed revert` in a repository:
// it reads the commits' files from the object store, applies the
// file-level and structure rules of doc/design.md §14 (three-way choices
// per path, text merges, model containers and metadata, sharded
// safetensors models), streams every tensor that several sides changed
// through package merge, stores the results, writes the merged models into
// the working tree as it goes, and concludes with a commit, a merge state
// waiting for --continue, or a conflict. It sits beside repo (as restic's
// archiver sits beside its repository) and takes a *repo.Repo:
//
//	res, err := mergeexec.Merge(ctx, r, []string{"alice", "bob"}, mergeexec.Options{Strategy: "fedavg"})
//	id, err := mergeexec.Revert(ctx, r, "HEAD~2", mergeexec.RevertOptions{})
//
// Left to others: the numerics (package merge: strategies, rounding,
// revert's arithmetic); the repository lock, the index, checkouts,
// commits, the merge state and its --continue and --abort (package repo);
// the bytes of objects (objects) and of model files (codec); flags and
// printing (cmd/fed).
//
// Invariants:
//   - Bit-reproducible output: the merge commit's files depend only on the
//     commits merged, the options and the strategy's documented numerics —
//     not on piece size, read-ahead, worker count, the number of sides
//     held at once or scheduling. Paths are
//     planned in sorted order and tensors merged in (path, name) order;
//     pieces are fed to the strategy in order, whatever order they are
//     read in.
//   - Sorted results: conflicts, metadata conflicts and optimiser state
//     tensors come out sorted by path (then key or tensor name), and the
//     commit records the strategy, parameters, base, sides and weights
//     (MetaMerge*, repo.MetaMergeWeights) so that anyone can recompute it.
//   - Nothing half-written: options, weights and the strategy's needs are
//     checked before the index, working tree or HEAD change; objects are
//     stored before any of them changes; working-tree files are written to temporaries next to their
//     destination and renamed into place by the checkout, and temporaries
//     no checkout took are removed when the merge ends. A merge that stops
//     for conflicts leaves a consistent index (conflict stages), working
//     tree and merge state, and never moves HEAD.
//   - Memory does not grow with the number of sides past eight: their
//     pieces are read one side after another and summed, or kept in a
//     temporary file and merged in slices (manysides.go).
package mergeexec
