package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/zk"
)

// Proofs are attached to commits, not stored inside them: the proof
// object of commit C (kind proof, System zk.System) is named by the ref
// refs/proofs/<C's full hex id>. The namespace travels with push and fetch
// like refs/tags/; the proof object refers to C and to the chunk object
// holding its verifying key file, so copying the ref's closure copies both.
const ProofsPrefix = "refs/proofs/"

// Commit metadata keys the zk layer reads.
const (
	// MetaZKRoot is the hex zk commitment root of the commit's weights;
	// when present (and signed with the commit) verifiers compare it with
	// the proof's root, which binds withheld weights to the commit.
	MetaZKRoot = "zk.root"
	// MetaMergeWeights lists a merge's integer weights, one per parent in
	// parent order, comma-separated ("1437,2000").
	MetaMergeWeights = "merge.weights"
)

// ProofRef returns the ref naming commit's proof.
func ProofRef(commit objects.ID) refs.Name { return refs.Name(ProofsPrefix + commit.String()) }

// ZKSettings are the repository's zk.* configuration values.
type ZKSettings struct {
	Linf      float64 // zk.linf, model units; HasLinf false: unset
	HasLinf   bool
	L2        float64 // zk.l2, model units²
	HasL2     bool
	ChunkSize int          // zk.chunk; default zk.DefaultChunk
	Always    bool         // zk.prove = always
	Pinned    []objects.ID // zk.vk: verifying key ids, comma or space separated
	HasChunk  bool         // zk.chunk is set
	// Signed are the signed settings of the current branch's remote
	// (nil: none fetched); they give every key .fed/config leaves unset.
	Signed *SignedSettings
	// FromSigned lists the keys taken from Signed.
	FromSigned []string
	fromConfig bool // some key came from .fed/config
}

// Any reports whether any setting that makes a repository prove is set:
// zk.linf, zk.l2, zk.chunk or zk.prove always.
func (s ZKSettings) Any() bool { return s.HasLinf || s.HasL2 || s.Always || s.HasChunk }

// ZKSettings reads zk.linf, zk.l2, zk.chunk, zk.prove and zk.vk from
// .fed/config, and each of them but zk.prove that it leaves unset from
// the signed settings of the current branch's remote (settings.go).
func (r *Repo) ZKSettings() (ZKSettings, error) {
	signed, err := r.RemoteSettings(context.Background(), r.settingsRemote())
	if err != nil {
		return ZKSettings{ChunkSize: zk.DefaultChunk}, err
	}
	var fromSigned []string
	fromConfig := false
	s, err := parseZKSettings(func(k string) (string, bool) {
		v, ok := r.Config.Get(k)
		if v = strings.TrimSpace(v); ok && v != "" {
			fromConfig = true
			return v, true
		}
		if signed != nil && signed.ZK[k] != "" && k != "zk.prove" {
			fromSigned = append(fromSigned, k)
			return signed.ZK[k], true
		}
		return "", false
	})
	s.Signed, s.FromSigned, s.fromConfig = signed, fromSigned, fromConfig
	return s, err
}

// zkConfigKeys are the zk.* keys of ZKSettings.
var zkConfigKeys = []string{"zk.chunk", "zk.l2", "zk.linf", "zk.prove", "zk.vk"}

// checkZKValue refuses a value ZKSettings would refuse, and zk.* keys fed
// does not know, so that 'fed config' refuses them when they are set
// rather than every later command that reads them.
func checkZKValue(key, value string) error {
	if !slices.Contains(zkConfigKeys, key) {
		return fmt.Errorf("unknown key %s (the zk keys are %s)", key, strings.Join(zkConfigKeys, ", "))
	}
	_, err := parseZKSettings(func(k string) (string, bool) {
		v := strings.TrimSpace(value)
		return v, k == key && v != ""
	})
	return err
}

func parseZKSettings(get func(string) (string, bool)) (ZKSettings, error) {
	s := ZKSettings{ChunkSize: zk.DefaultChunk}
	var err error
	if v, ok := get("zk.linf"); ok {
		if s.Linf, err = strconv.ParseFloat(v, 64); err != nil || !(s.Linf >= 0) {
			return s, fmt.Errorf("config zk.linf %q: want a non-negative number", v)
		}
		s.HasLinf = true
	}
	if v, ok := get("zk.l2"); ok {
		if s.L2, err = strconv.ParseFloat(v, 64); err != nil || !(s.L2 >= 0) {
			return s, fmt.Errorf("config zk.l2 %q: want a non-negative number", v)
		}
		s.HasL2 = true
	}
	if v, ok := get("zk.chunk"); ok {
		if s.ChunkSize, err = strconv.Atoi(v); err != nil {
			return s, fmt.Errorf("config zk.chunk %q: want an integer", v)
		}
		if err := zk.CheckChunkSize(s.ChunkSize); err != nil {
			return s, fmt.Errorf("config zk.chunk: %w", err)
		}
		s.HasChunk = true
	}
	if v, ok := get("zk.prove"); ok {
		switch v {
		case "always":
			s.Always = true
		case "never":
		default:
			return s, fmt.Errorf("config zk.prove %q: want always or never", v)
		}
	}
	if v, ok := get("zk.vk"); ok {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			id, err := objects.ParseID(f)
			if err != nil {
				return s, fmt.Errorf("config zk.vk %q: %w", f, err)
			}
			s.Pinned = append(s.Pinned, id)
		}
	}
	return s, nil
}

// ZKValues quantises the float tensors of commit id (zk.Quantize). It
// fails with an error matching objects.ErrNotFound when weights are absent.
func (r *Repo) ZKValues(ctx context.Context, id objects.ID) (*zk.Values, error) {
	files, err := r.CommitFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := r.zkFilesValues(ctx, files)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id.Short(), err)
	}
	return v, nil
}

// ZKRoot returns the hex commitment root of commit id's weights with the
// repository's chunk size: the value a commit may record as MetaZKRoot.
func (r *Repo) ZKRoot(ctx context.Context, id objects.ID) (string, error) {
	s, err := r.ZKSettings()
	if err != nil {
		return "", err
	}
	v, err := r.ZKValues(ctx, id)
	if err != nil {
		return "", err
	}
	c, err := zk.Commit(ctx, v, s.ChunkSize)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", c.Root), nil
}

// mergeWeights returns the integer weights of merge commit c: its
// MetaMergeWeights, else its parents' samples when all are positive, else
// all ones. ok is false when the parents needed for samples are absent.
func (r *Repo) mergeWeights(ctx context.Context, c *objects.Commit) ([]uint64, error) {
	if v, ok := c.Value(MetaMergeWeights); ok {
		parts := strings.Split(v, ",")
		if len(parts) != len(c.Parents) {
			return nil, fmt.Errorf("%s %q: %d weights for %d parents", MetaMergeWeights, v, len(parts), len(c.Parents))
		}
		w := make([]uint64, len(parts))
		for i, p := range parts {
			x, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", MetaMergeWeights, v, err)
			}
			w[i] = x
		}
		return w, nil
	}
	w := make([]uint64, len(c.Parents))
	all := true
	for i, p := range c.Parents {
		pc, err := objects.ReadCommit(ctx, r.Objects, p)
		if err != nil {
			return nil, fmt.Errorf("merge weights: parent %s: %w", p.Short(), err)
		}
		n := Samples(pc)
		all = all && n > 0
		w[i] = uint64(n)
	}
	if !all {
		for i := range w {
			w[i] = 1
		}
	}
	return w, nil
}

// ProveOptions tune Prove.
type ProveOptions struct {
	Cache *zk.Cache // the proving keys (required)
	// Setup makes development keys for shapes the cache lacks; otherwise
	// a missing key fails with zk.ErrNoKeys.
	Setup bool
	// Force re-proves commits that already have a proof.
	Force   bool
	Workers int
}

// ProveResult is one commit's outcome.
type ProveResult struct {
	Commit  objects.ID
	Proof   objects.ID // zero when skipped
	Kind    string     // commitment, update, merge
	Chunks  int
	Keys    string // development or ceremony
	Skipped bool   // already proven
}

func (o *ProveOptions) cache() (*zk.Cache, error) {
	if o.Cache == nil {
		return nil, errors.New("prove: no key cache given (ProveOptions.Cache)")
	}
	return o.Cache, nil
}

// Prove proves the commits of revs (a revision, or A..B: the commits
// reachable from B but not from A), oldest first, and attaches each proof
// under ProofRef. Proving needs the weights of each commit and its parents.
func (r *Repo) Prove(ctx context.Context, revs string, opts ProveOptions) ([]ProveResult, error) {
	s, err := r.ZKSettings()
	if err != nil {
		return nil, err
	}
	cache, err := opts.cache()
	if err != nil {
		return nil, err
	}
	ids, err := r.revList(ctx, revs)
	if err != nil {
		return nil, err
	}
	var out []ProveResult
	for _, id := range ids {
		res, err := r.proveOne(ctx, id, s, cache, opts)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *Repo) proveOne(ctx context.Context, id objects.ID, s ZKSettings, cache *zk.Cache, opts ProveOptions) (ProveResult, error) {
	res := ProveResult{Commit: id}
	if old, err := r.Refs.Read(ProofRef(id)); err == nil && !opts.Force {
		res.Proof, res.Skipped = old, true
		return res, nil
	}
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return res, err
	}
	self, err := r.ZKValues(ctx, id)
	if err != nil {
		return res, fmt.Errorf("prove %s: %w", id.Short(), err)
	}
	st := &zk.Statement{Commit: id, ChunkSize: s.ChunkSize, Self: self}
	for _, p := range c.Parents {
		v, err := r.ZKValues(ctx, p)
		if err != nil {
			return res, fmt.Errorf("prove %s: parent %s: %w", id.Short(), p.Short(), err)
		}
		st.Parents = append(st.Parents, v)
		st.ParentIDs = append(st.ParentIDs, p)
	}
	switch len(c.Parents) {
	case 0:
	case 1:
		if !s.HasLinf {
			return res, fmt.Errorf("prove %s: zk.linf is not set (fed config zk.linf <largest change of one weight>)", id.Short())
		}
		if st.Linf, err = zk.QuantBound(s.Linf); err != nil {
			return res, err
		}
		if s.HasL2 {
			st.HasL2 = true
			if st.L2, err = zk.QuantBudget(s.L2); err != nil {
				return res, err
			}
		}
	default:
		if st.Weights, err = r.mergeWeights(ctx, c); err != nil {
			return res, fmt.Errorf("prove %s: %w", id.Short(), err)
		}
	}
	if opts.Setup {
		if _, err := cache.Setup(ctx, st.ShapeOf()); err != nil {
			return res, err
		}
	}
	var total int64
	var progressMu sync.Mutex // chunks report from several goroutines
	po := zk.ProveOptions{Workers: opts.Workers, Progress: func(done, n int) {
		progressMu.Lock()
		defer progressMu.Unlock()
		if total == 0 {
			total = int64(n)
			r.Progress.Start("proving "+id.Short(), total, "chunks")
		}
		r.Progress.Add(1)
	}}
	body, err := cache.Prove(ctx, st, po)
	if total > 0 {
		r.Progress.Done()
	}
	if err != nil {
		return res, err
	}
	vk, err := cache.VerifyingKey(st.ShapeOf())
	if err != nil {
		return res, err
	}
	vkID, err := r.Objects.Put(ctx, objects.EncodeChunk(vk.Raw), objects.PutOptions{})
	if err != nil {
		return res, err
	}
	pid, err := objects.Write(ctx, r.Objects, &objects.Proof{Commit: id, System: zk.System, Needs: []objects.ID{vkID}, Body: body.Encode()})
	if err != nil {
		return res, err
	}
	old, err := r.Refs.Read(ProofRef(id))
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return res, err
	}
	if err := r.Refs.Update(ProofRef(id), old, pid, r.entry("prove: "+body.Kind.String())); err != nil {
		return res, err
	}
	res.Proof, res.Kind, res.Chunks, res.Keys = pid, body.Kind.String(), len(body.Proofs), vk.Origin.String()
	return res, nil
}

// revList resolves a revision or an A..B range to commit ids, oldest
// first. Commits missing from a shallow clone end the walk quietly.
func (r *Repo) revList(ctx context.Context, revs string) ([]objects.ID, error) {
	from, to, isRange := strings.Cut(revs, "..")
	if !isRange {
		id, err := r.Resolve(ctx, revs)
		if err != nil {
			return nil, err
		}
		return []objects.ID{id}, nil
	}
	if to == "" {
		to = "HEAD"
	}
	stop := map[objects.ID]bool{}
	if from != "" {
		a, err := r.Resolve(ctx, from)
		if err != nil {
			return nil, err
		}
		if err := r.walk(ctx, a, func(id objects.ID, _ *objects.Commit) bool { stop[id] = true; return true }); err != nil {
			return nil, err
		}
	}
	b, err := r.Resolve(ctx, to)
	if err != nil {
		return nil, err
	}
	type entry struct {
		id objects.ID
		t  int64
	}
	var list []entry
	err = r.walk(ctx, b, func(id objects.ID, c *objects.Commit) bool {
		if stop[id] {
			return false
		}
		list = append(list, entry{id, c.Time})
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].t < list[j].t })
	out := make([]objects.ID, len(list))
	for i, e := range list {
		out[i] = e.id
	}
	return out, nil
}

// walk visits start and its ancestors once each; fn returns false to not
// descend. Absent commits (shallow clones) are skipped.
func (r *Repo) walk(ctx context.Context, start objects.ID, fn func(objects.ID, *objects.Commit) bool) error {
	return graph.History{SkipAbsent: true}.Run(ctx, r.Objects, []objects.ID{start}, func(id objects.ID, c *objects.Commit) error {
		if !fn(id, c) {
			return graph.SkipParents
		}
		return nil
	})
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	Cache   *zk.Cache // verifying keys missing from the repository; nil: none
	Workers int
	// RequireProof fails a commit without a proof even in a repository
	// without zk settings (a hosting server's protected branches).
	RequireProof bool
	// UncheckedBound lets an update proof pass when no zk.linf is known
	// (its bound is reported, not compared): for a caller that decides
	// about the bound itself, as a hosting server does. Otherwise such a
	// proof fails with ErrSettingsMissing.
	UncheckedBound bool
	// Proofs names, by commit, proof objects to verify instead of the
	// commits' refs/proofs/<commit> (a server checking a push that sets
	// those refs in the same request).
	Proofs map[objects.ID]objects.ID
}

// CommitReport is the verification of one commit.
type CommitReport struct {
	Commit objects.ID `json:"commit"`
	// Signature: "ok", "unsigned" or "bad".
	Signature string `json:"signature"`
	// Proof: "ok", "missing" or "invalid".
	Proof string `json:"proof"`
	Kind  string `json:"kind,omitempty"` // commitment, update, merge
	Keys  string `json:"keys,omitempty"` // development or ceremony
	// Commitment says how the commit's own commitment was bound to it:
	// "recomputed" from its weights, "signed" (its zk.root metadata), or
	// "proof-only" (weights absent and no zk.root).
	Commitment string `json:"commitment,omitempty"`
	// Parents says, per parent, how its commitment was checked:
	// "recomputed", "proof" (matches the parent's own proof) or "signed".
	Parents []string `json:"parents,omitempty"`
	Chunks  int      `json:"chunks"`
	Linf    float64  `json:"linf,omitempty"` // update bound, model units
	Weights []uint64 `json:"weights,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	OK      bool     `json:"ok"`
	errs    []error
}

// Err joins the report's errors (nil when OK).
func (c *CommitReport) Err() error { return errors.Join(c.errs...) }

func (c *CommitReport) fail(err error) {
	c.errs = append(c.errs, err)
	c.Errors = append(c.Errors, err.Error())
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// Settings says where the zk settings checked against came from:
	// "none", ".fed/config", "signed by <key> (<remote> settings <id>)",
	// or ".fed/config, then signed by …" when both gave keys.
	Settings string          `json:"settings"`
	Commits  []*CommitReport `json:"commits"`
	OK       bool            `json:"ok"`
}

// describe says where s came from (VerifyReport.Settings).
func (s ZKSettings) describe() string {
	var out []string
	if s.fromConfig {
		out = append(out, ".fed/config")
	}
	if len(s.FromSigned) > 0 {
		out = append(out, fmt.Sprintf("signed by %s (%s settings %s)", s.Signed.Signer, s.Signed.Remote, s.Signed.Commit.Short()))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", then ")
}

// Errors of Verify.
var (
	// ErrVerify reports a Verify whose report is not OK.
	ErrVerify = errors.New("repo: verification failed")
	// ErrProofMissing reports a commit without the proof that its
	// metadata, the settings or VerifyOptions.RequireProof call for.
	ErrProofMissing = errors.New("repo: proof missing")
	// ErrSettingsMissing reports a proof whose statement needs a zk
	// setting (the update bound zk.linf) that the repository lacks.
	ErrSettingsMissing = errors.New("repo: zk settings missing")
)

// claimsProof names what commit c records that only a proof can check
// (its MetaZKRoot or MetaMergeWeights), "" when nothing.
func claimsProof(c *objects.Commit) string {
	for _, k := range []string{MetaZKRoot, MetaMergeWeights} {
		if _, ok := c.Value(k); ok {
			return k
		}
	}
	return ""
}

// Verify checks the commits of revs (a revision or A..B): signatures,
// proofs against their verifying keys (pinned ones only when zk.vk is
// set), the commitments against the weights where the repository holds
// them, parents' commitments against the parents' weights or proofs, and
// merge weights against the commit's metadata. The report is complete
// even when it fails; err matches ErrVerify then.
func (r *Repo) Verify(ctx context.Context, revs string, opts VerifyOptions) (*VerifyReport, error) {
	s, err := r.ZKSettings()
	if err != nil {
		return nil, err
	}
	ids, err := r.revList(ctx, revs)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{OK: true, Settings: s.describe()}
	drift := map[objects.ID]uint64{}
	for _, id := range ids {
		cr := r.verifyOne(ctx, id, s, opts, drift)
		cr.OK = len(cr.errs) == 0
		rep.OK = rep.OK && cr.OK
		rep.Commits = append(rep.Commits, cr)
	}
	if !rep.OK {
		var errs []error
		for _, c := range rep.Commits {
			errs = append(errs, c.errs...)
		}
		return rep, fmt.Errorf("%w: %w", ErrVerify, errors.Join(errs...))
	}
	return rep, nil
}

func (r *Repo) verifyOne(ctx context.Context, id objects.ID, s ZKSettings, opts VerifyOptions, drift map[objects.ID]uint64) *CommitReport {
	cr := &CommitReport{Commit: id}
	hexID := id.String()
	check := func(chunk int, what string, err error) error {
		return &zk.CheckError{Commit: hexID, Chunk: chunk, Check: what, Err: err}
	}
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		cr.fail(fmt.Errorf("commit %s: %w", id.Short(), err))
		return cr
	}
	switch {
	case len(c.Signature) == 0:
		cr.Signature = "unsigned"
		cr.fail(check(-1, "signature", errors.New("commit is not signed")))
	case objects.VerifyCommit(c) != nil:
		cr.Signature = "bad"
		cr.fail(check(-1, "signature", objects.VerifyCommit(c)))
	default:
		cr.Signature = "ok"
	}
	body, vk, err := r.loadProof(ctx, id, opts)
	if err != nil {
		if errors.Is(err, refs.ErrNotFound) {
			claim := claimsProof(c)
			if !s.Any() && !opts.RequireProof && claim == "" {
				// a repository without zk settings asks for signatures
				// only, of commits that claim nothing a proof would back
				cr.Proof = "none (zk not configured)"
				return cr
			}
			cr.Proof = "missing"
			why := "the repository's zk settings require one"
			switch {
			case claim != "":
				why = "it records " + claim + ", which only a proof can check"
			case opts.RequireProof:
				why = "proofs are required"
			}
			cr.fail(check(-1, "proof", fmt.Errorf("%w: no proof attached, and %s (fetch its proof, or have its author run 'fed prove %s' and push)", ErrProofMissing, why, id.Short())))
		} else {
			cr.Proof = "invalid"
			cr.fail(err)
		}
		return cr
	}
	cr.Kind, cr.Keys, cr.Chunks = body.Kind.String(), vk.Origin.String(), len(body.Proofs)
	if err := zk.Verify(ctx, id, body, vk, zk.VerifyOptions{Pinned: s.Pinned, Workers: opts.Workers}); err != nil {
		cr.Proof = "invalid"
		cr.fail(err)
		return cr
	}
	cr.Proof = "ok"
	// The statement must be about this commit's parents.
	if len(body.Parents) != len(c.Parents) {
		cr.fail(check(-1, body.Kind.String(), fmt.Errorf("%w: proof has %d parents, the commit %d", zk.ErrInvalidProof, len(body.Parents), len(c.Parents))))
		return cr
	}
	for i, p := range body.Parents {
		if p.Commit != c.Parents[i] {
			cr.fail(check(-1, body.Kind.String(), fmt.Errorf("%w: proof's parent %d is %s, the commit's %s", zk.ErrInvalidProof, i, p.Commit.Short(), c.Parents[i].Short())))
			return cr
		}
	}
	// Own commitment.
	cr.Commitment = r.bindCommitment(ctx, cr, id, c, body.ChunkSize, body.Self.Chunks, body.Self.Root, check)
	// Parents' commitments.
	for _, p := range body.Parents {
		root := p.Root(body.ChunkSize, body.Self.Layout)
		how := r.bindParent(ctx, cr, p, body.ChunkSize, root, check)
		cr.Parents = append(cr.Parents, how)
	}
	switch body.Kind {
	case zk.KindUpdate:
		// The update circuit does not range-check values: its statement
		// holds value by value when the child's weights are here, or the
		// parent's commitment is known to lie near the range (design
		// §15.4).
		if cr.Commitment != "recomputed" && len(body.Parents) == 1 {
			pd := r.commitmentDrift(ctx, body.Parents[0], body.ChunkSize, body.Self.Layout, opts, drift)
			if _, err := body.Drift(pd); err != nil {
				cr.fail(check(-1, "update", fmt.Errorf("parent %s: %w", body.Parents[0].Commit.Short(), err)))
			}
		}
		cr.Linf = float64(body.Linf) / (1 << zk.ScaleShift)
		if !s.HasLinf && !opts.UncheckedBound {
			cr.fail(check(-1, "update", fmt.Errorf("%w: the proof's bound %.6g cannot be checked: the repository's zk.linf is unknown here (fetch its signed settings, which its owner sets with 'fed config --remote REMOTE zk.linf B', or set zk.linf)", ErrSettingsMissing, cr.Linf)))
		}
		if s.HasLinf {
			if want, err := zk.QuantBound(s.Linf); err == nil && body.Linf > want {
				cr.fail(check(-1, "update", fmt.Errorf("%w: proof's bound %g is above zk.linf %g", zk.ErrBound, cr.Linf, s.Linf)))
			}
		}
		if s.HasL2 {
			want, err := zk.QuantBudget(s.L2)
			if err == nil && (!body.HasL2 || body.L2 > want) {
				cr.fail(check(-1, "update", fmt.Errorf("%w: proof's L2 budget is above zk.l2 %g", zk.ErrBound, s.L2)))
			}
		}
	case zk.KindMerge:
		cr.Weights = body.Weights
		w, err := r.mergeWeights(ctx, c)
		switch {
		case err != nil:
			cr.fail(check(-1, "merge", fmt.Errorf("weights cannot be checked: %w", err)))
		case !slices.Equal(w, body.Weights):
			cr.fail(check(-1, "merge", fmt.Errorf("%w: proof uses weights %v, the commit says %v", zk.ErrInvalidProof, body.Weights, w)))
		}
	}
	return cr
}

// loadProof reads commit id's proof object, its body and verifying key.
func (r *Repo) loadProof(ctx context.Context, id objects.ID, opts VerifyOptions) (*zk.Body, *zk.VerifyingKey, error) {
	pid, ok := opts.Proofs[id]
	if !ok {
		var err error
		if pid, err = r.Refs.Read(ProofRef(id)); err != nil {
			return nil, nil, err
		}
	}
	fail := func(err error) error { return &zk.CheckError{Commit: id.String(), Chunk: -1, Check: "proof", Err: err} }
	o, err := objects.Read(ctx, r.Objects, pid, objects.KindProof)
	if err != nil {
		return nil, nil, fail(err)
	}
	p := o.(*objects.Proof)
	if p.Commit != id {
		return nil, nil, fail(fmt.Errorf("%w: the attached proof is for commit %s", zk.ErrInvalidProof, p.Commit.Short()))
	}
	if p.System != zk.System {
		return nil, nil, fail(fmt.Errorf("%w: proof system %q (this fed knows %q)", zk.ErrUnknownVersion, p.System, zk.System))
	}
	body, err := zk.DecodeBody(p.Body)
	if err != nil {
		return nil, nil, fail(err)
	}
	if len(p.Needs) != 1 || p.Needs[0] != body.VK {
		return nil, nil, fail(fmt.Errorf("%w: proof object does not name its verifying key", zk.ErrMalformed))
	}
	var vk *zk.VerifyingKey
	b, err := r.Objects.Get(ctx, body.VK)
	switch {
	case err == nil:
		if k, _ := objects.PeekKind(b); k != objects.KindChunk {
			return nil, nil, fail(fmt.Errorf("%w: verifying key object %s is not a chunk", zk.ErrMalformed, body.VK.Short()))
		}
		if vk, err = zk.DecodeVerifyingKey(b[objects.HeaderSize:]); err != nil {
			return nil, nil, fail(err)
		}
	case errors.Is(err, objects.ErrNotFound) && opts.Cache != nil:
		if vk, err = opts.Cache.VerifyingKey(body.Shape()); err != nil {
			return nil, nil, fail(err)
		}
	default:
		return nil, nil, fail(err)
	}
	return body, vk, nil
}

// driftUnknown is a drift no statement tolerates.
const driftUnknown = zk.MaxDrift + 1

// commitmentDrift bounds how far the values of parent commitment p (as a
// proof with chunk size chunk and layout used it) may lie outside the
// committed range: 0 when its weights are here and match, or its own
// valid proof is a commitment or merge proof (both range-check their
// values); its own parent's drift plus its bound when its proof is an
// update; driftUnknown otherwise. Results are kept in memo by commit.
func (r *Repo) commitmentDrift(ctx context.Context, p zk.ParentCommitment, chunk int, layout [32]byte, opts VerifyOptions, memo map[objects.ID]uint64) uint64 {
	if d, ok := memo[p.Commit]; ok {
		return d
	}
	memo[p.Commit] = driftUnknown // while this one is worked out
	d := uint64(driftUnknown)
	root := p.Root(chunk, layout)
	if how, err := r.recompute(ctx, p.Commit, chunk, p.Chunks, root); err == nil && how == "recomputed" {
		d = 0
	} else if pb, vk, err := r.loadProof(ctx, p.Commit, opts); err == nil && pb.Self.Root == root &&
		zk.Verify(ctx, p.Commit, pb, vk, zk.VerifyOptions{Workers: opts.Workers}) == nil {
		switch pb.Kind {
		case zk.KindUpdate:
			if len(pb.Parents) == 1 {
				gd := r.commitmentDrift(ctx, pb.Parents[0], pb.ChunkSize, pb.Self.Layout, opts, memo)
				if nd, err := pb.Drift(gd); err == nil {
					d = nd
				}
			}
		default:
			d = 0
		}
	}
	memo[p.Commit] = d
	return d
}

// bindCommitment checks a commit's own commitment against its weights, or
// else its signed root, and says which.
func (r *Repo) bindCommitment(ctx context.Context, cr *CommitReport, id objects.ID, c *objects.Commit, chunk int, chunks []zk.Digest, root [32]byte,
	check func(int, string, error) error) string {
	how, err := r.recompute(ctx, id, chunk, chunks, root)
	if err != nil {
		cr.fail(check(errChunk(err), "commitment", err))
		return "mismatch"
	}
	if v, ok := c.Value(MetaZKRoot); ok {
		if v != fmt.Sprintf("%x", root) {
			cr.fail(check(-1, "commitment", fmt.Errorf("%w: proof's root %x differs from the commit's %s %s", zk.ErrMismatch, root[:6], MetaZKRoot, v)))
			return "mismatch"
		}
		if how == "" {
			how = "signed"
		}
	}
	if how == "" {
		how = "proof-only"
	}
	return how
}

// bindParent checks a parent's commitment as a proof used it.
func (r *Repo) bindParent(ctx context.Context, cr *CommitReport, p zk.ParentCommitment, chunk int, root [32]byte, check func(int, string, error) error) string {
	how, err := r.recompute(ctx, p.Commit, chunk, p.Chunks, root)
	if err != nil {
		cr.fail(check(errChunk(err), "parent commitment", fmt.Errorf("parent %s: %w", p.Commit.Short(), err)))
		return "mismatch"
	}
	if how != "" {
		return how
	}
	if pb, _, err := r.loadProof(ctx, p.Commit, VerifyOptions{}); err == nil || errors.Is(err, zk.ErrNoKeys) {
		if pb != nil && pb.Self.Root == root {
			return "proof"
		}
		if pb != nil {
			cr.fail(check(-1, "parent commitment", fmt.Errorf("%w: parent %s's own proof commits to another root", zk.ErrMismatch, p.Commit.Short())))
			return "mismatch"
		}
	}
	if pc, err := objects.ReadCommit(ctx, r.Objects, p.Commit); err == nil {
		if v, ok := pc.Value(MetaZKRoot); ok {
			if v == fmt.Sprintf("%x", root) {
				return "signed"
			}
			cr.fail(check(-1, "parent commitment", fmt.Errorf("%w: parent %s's %s differs", zk.ErrMismatch, p.Commit.Short(), MetaZKRoot)))
			return "mismatch"
		}
	}
	cr.fail(check(-1, "parent commitment", fmt.Errorf("parent %s: neither its weights, its proof nor a signed %s are here to check its commitment", p.Commit.Short(), MetaZKRoot)))
	return "unchecked"
}

type chunkErr struct {
	chunk int
	err   error
}

func (e *chunkErr) Error() string { return e.err.Error() }
func (e *chunkErr) Unwrap() error { return e.err }

func errChunk(err error) int {
	var ce *chunkErr
	if errors.As(err, &ce) {
		return ce.chunk
	}
	return -1
}

// recompute compares chunk commitments with commit id's weights: "" when
// the weights are absent, "recomputed" when they match.
func (r *Repo) recompute(ctx context.Context, id objects.ID, chunk int, chunks []zk.Digest, root [32]byte) (string, error) {
	v, err := r.ZKValues(ctx, id)
	if errors.Is(err, objects.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	c, err := zk.Commit(ctx, v, chunk)
	if err != nil {
		return "", err
	}
	if len(c.Chunks) != len(chunks) {
		return "", fmt.Errorf("%w: the weights have %d chunks, the proof %d", zk.ErrMismatch, len(c.Chunks), len(chunks))
	}
	for i := range chunks {
		if c.Chunks[i] != chunks[i] {
			return "", &chunkErr{i, fmt.Errorf("%w: the weights of chunk %d hash to another commitment", zk.ErrMismatch, i)}
		}
	}
	if c.Root != root {
		return "", fmt.Errorf("%w: the tensor layout or the uncovered tensors and files differ from the proof's", zk.ErrMismatch)
	}
	return "recomputed", nil
}
