package proving

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

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
	// Memo, when set, answers what an earlier verification established
	// (commitments of weights, proofs that verified) and records what this
	// one establishes; nil verifies everything cold.
	Memo *Memo
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
func (s Settings) describe() string {
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
	ErrVerify = errors.New("proving: verification failed")
	// ErrProofMissing reports a commit without the proof that its
	// metadata, the settings or VerifyOptions.RequireProof call for.
	ErrProofMissing = errors.New("proving: proof missing")
	// ErrSettingsMissing reports a proof whose statement needs a zk
	// setting (the update bound zk.linf) that the repository lacks.
	ErrSettingsMissing = errors.New("proving: zk settings missing")
)

// claimsProof names what commit c records that only a proof can check
// (its repo.MetaZKRoot or repo.MetaMergeWeights), "" when nothing.
func claimsProof(c *objects.Commit) string {
	for _, k := range []string{repo.MetaZKRoot, repo.MetaMergeWeights} {
		if _, ok := c.Value(k); ok {
			return k
		}
	}
	return ""
}

// Verify checks the commits of revs in r (a revision or A..B): signatures,
// proofs against their verifying keys (pinned ones only when zk.vk is
// set), the commitments against the weights where the repository holds
// them, parents' commitments against the parents' weights or proofs, and
// merge weights against the commit's metadata. The report is complete
// even when it fails; err matches ErrVerify then.
func Verify(ctx context.Context, rp *repo.Repo, revs string, opts VerifyOptions) (*VerifyReport, error) {
	r := prepo{Repo: rp, memo: opts.Memo}
	s, err := ReadSettings(rp)
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

func (r prepo) verifyOne(ctx context.Context, id objects.ID, s Settings, opts VerifyOptions, drift map[objects.ID]uint64) *CommitReport {
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
	pid, body, vk, err := r.loadProof(ctx, id, opts)
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
	if err := r.verifyProof(ctx, id, pid, body, vk, zk.VerifyOptions{Pinned: s.Pinned, Workers: opts.Workers}); err != nil {
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
	r.checkStatement(ctx, cr, c, body, s, opts, drift, check)
	return cr
}

// checkStatement checks what the proof of commit c says beyond its
// commitments: an update's bound against the settings and its parent's
// range, a merge's weights against the commit's.
func (r prepo) checkStatement(ctx context.Context, cr *CommitReport, c *objects.Commit, body *zk.Body, s Settings, opts VerifyOptions,
	drift map[objects.ID]uint64, check func(int, string, error) error) {
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
}

// verifyProof is zk.Verify of proof object pid of commit id, answered
// from the memo when this proof verified against this key and these pins
// before.
func (r prepo) verifyProof(ctx context.Context, id, pid objects.ID, body *zk.Body, vk *zk.VerifyingKey, opts zk.VerifyOptions) error {
	key := proofKey(id, pid, vk.ID, opts.Pinned)
	if _, ok := r.memo.get(key); ok && vk.ID == body.VK {
		return nil
	}
	if err := zk.Verify(ctx, id, body, vk, opts); err != nil {
		return err
	}
	r.memo.put(key, nil)
	return nil
}

// loadProof reads commit id's proof object (returning its id), its body
// and verifying key.
func (r prepo) loadProof(ctx context.Context, id objects.ID, opts VerifyOptions) (objects.ID, *zk.Body, *zk.VerifyingKey, error) {
	pid, ok := opts.Proofs[id]
	if !ok {
		var err error
		if pid, err = r.Refs.Read(repo.ProofRef(id)); err != nil {
			return pid, nil, nil, err
		}
	}
	fail := func(err error) error { return &zk.CheckError{Commit: id.String(), Chunk: -1, Check: "proof", Err: err} }
	o, err := objects.Read(ctx, r.Objects, pid, objects.KindProof)
	if err != nil {
		return pid, nil, nil, fail(err)
	}
	p := o.(*objects.Proof)
	if p.Commit != id {
		return pid, nil, nil, fail(fmt.Errorf("%w: the attached proof is for commit %s", zk.ErrInvalidProof, p.Commit.Short()))
	}
	if p.System != zk.System {
		return pid, nil, nil, fail(fmt.Errorf("%w: proof system %q (this fed knows %q)", zk.ErrUnknownVersion, p.System, zk.System))
	}
	body, err := zk.DecodeBody(p.Body)
	if err != nil {
		return pid, nil, nil, fail(err)
	}
	if len(p.Needs) != 1 || p.Needs[0] != body.VK {
		return pid, nil, nil, fail(fmt.Errorf("%w: proof object does not name its verifying key", zk.ErrMalformed))
	}
	var vk *zk.VerifyingKey
	b, err := r.Objects.Get(ctx, body.VK)
	switch {
	case err == nil:
		if k, _ := objects.PeekKind(b); k != objects.KindChunk {
			return pid, nil, nil, fail(fmt.Errorf("%w: verifying key object %s is not a chunk", zk.ErrMalformed, body.VK.Short()))
		}
		if vk, err = zk.DecodeVerifyingKey(b[objects.HeaderSize:]); err != nil {
			return pid, nil, nil, fail(err)
		}
	case errors.Is(err, objects.ErrNotFound) && opts.Cache != nil:
		if vk, err = opts.Cache.VerifyingKey(body.Shape()); err != nil {
			return pid, nil, nil, fail(err)
		}
	default:
		return pid, nil, nil, fail(err)
	}
	return pid, body, vk, nil
}

// driftUnknown is a drift no statement tolerates.
const driftUnknown = zk.MaxDrift + 1

// commitmentDrift bounds how far the values of parent commitment p (as a
// proof with chunk size chunk and layout used it) may lie outside the
// committed range: 0 when its weights are here and match, or its own
// valid proof is a commitment or merge proof (both range-check their
// values); its own parent's drift plus its bound when its proof is an
// update; driftUnknown otherwise. Results are kept in memo by commit.
func (r prepo) commitmentDrift(ctx context.Context, p zk.ParentCommitment, chunk int, layout [32]byte, opts VerifyOptions, memo map[objects.ID]uint64) uint64 {
	if d, ok := memo[p.Commit]; ok {
		return d
	}
	memo[p.Commit] = driftUnknown // while this one is worked out
	d := uint64(driftUnknown)
	root := p.Root(chunk, layout)
	if how, err := r.recompute(ctx, p.Commit, chunk, p.Chunks, root); err == nil && how == "recomputed" {
		d = 0
	} else if ppid, pb, vk, err := r.loadProof(ctx, p.Commit, opts); err == nil && pb.Self.Root == root &&
		r.verifyProof(ctx, p.Commit, ppid, pb, vk, zk.VerifyOptions{Workers: opts.Workers}) == nil {
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
func (r prepo) bindCommitment(ctx context.Context, cr *CommitReport, id objects.ID, c *objects.Commit, chunk int, chunks []zk.Digest, root [32]byte,
	check func(int, string, error) error) string {
	how, err := r.recompute(ctx, id, chunk, chunks, root)
	if err != nil {
		cr.fail(check(errChunk(err), "commitment", err))
		return "mismatch"
	}
	if v, ok := c.Value(repo.MetaZKRoot); ok {
		if v != fmt.Sprintf("%x", root) {
			cr.fail(check(-1, "commitment", fmt.Errorf("%w: proof's root %x differs from the commit's %s %s", zk.ErrMismatch, root[:6], repo.MetaZKRoot, v)))
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
func (r prepo) bindParent(ctx context.Context, cr *CommitReport, p zk.ParentCommitment, chunk int, root [32]byte, check func(int, string, error) error) string {
	how, err := r.recompute(ctx, p.Commit, chunk, p.Chunks, root)
	if err != nil {
		cr.fail(check(errChunk(err), "parent commitment", fmt.Errorf("parent %s: %w", p.Commit.Short(), err)))
		return "mismatch"
	}
	if how != "" {
		return how
	}
	if _, pb, _, err := r.loadProof(ctx, p.Commit, VerifyOptions{}); err == nil || errors.Is(err, zk.ErrNoKeys) {
		if pb != nil && pb.Self.Root == root {
			return "proof"
		}
		if pb != nil {
			cr.fail(check(-1, "parent commitment", fmt.Errorf("%w: parent %s's own proof commits to another root", zk.ErrMismatch, p.Commit.Short())))
			return "mismatch"
		}
	}
	if pc, err := objects.ReadCommit(ctx, r.Objects, p.Commit); err == nil {
		if v, ok := pc.Value(repo.MetaZKRoot); ok {
			if v == fmt.Sprintf("%x", root) {
				return "signed"
			}
			cr.fail(check(-1, "parent commitment", fmt.Errorf("%w: parent %s's %s differs", zk.ErrMismatch, p.Commit.Short(), repo.MetaZKRoot)))
			return "mismatch"
		}
	}
	cr.fail(check(-1, "parent commitment", fmt.Errorf("parent %s: neither its weights, its proof nor a signed %s are here to check its commitment", p.Commit.Short(), repo.MetaZKRoot)))
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
func (r prepo) recompute(ctx context.Context, id objects.ID, chunk int, chunks []zk.Digest, root [32]byte) (string, error) {
	key := commitmentKey(id, chunk)
	if v, ok := r.memo.get(key); ok && bytes.Equal(v, commitmentValue(chunks, root)) {
		return "recomputed", nil
	}
	// a miss, or a memo that disagrees: compute, so that the error names
	// the chunk
	v, err := r.values(ctx, id)
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
	r.memo.put(key, commitmentValue(c.Chunks, c.Root))
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
