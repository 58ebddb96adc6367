package hosting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/zk"
)

// Options say which hooks a Host offers and with what.
//
// Every hook works on any storage. The proof hooks read a repository
// through package repo: a repository whose refs are files
// (server.NewFiles, with its objects there or elsewhere) as the bare
// repository of its directory, whose config file holds its zk settings;
// any other (refs in a database: pgstore) over its stores
// (repo.OpenHosted), its zk settings kept by its repometa.Store.
type Options struct {
	// Storage keeps the repositories (required): server.NewFiles for a
	// root directory, or another server.Hosting (pgstore).
	Storage server.Hosting
	// VerifyCache holds the verifying keys the repositories lack; nil:
	// pushed proofs are not verified (CheckProof is off).
	VerifyCache *zk.Cache
	// RequireProofs makes new commits on protected branches need a valid
	// proof, and refuses update proofs of repositories without zk.linf
	// (needs VerifyCache).
	RequireProofs bool
	// ProveCache, when set, turns background proving on, with the proving
	// keys it holds (ProveSetup: development keys for shapes it lacks).
	ProveCache *zk.Cache
	ProveSetup bool
	// NFT says who holds repository NFTs (nil: NFT ownership is off).
	NFT *nft.HolderCache
	// ZK lets owners read and change their repositories' zk settings
	// (kept in each repository's config file, or its repometa.Store).
	ZK bool
	// Logger receives an event per proof made (default: discarded).
	Logger *slog.Logger
}

// Host is a server.Hosting whose repositories have the hooks of Options.
type Host struct {
	opts Options
}

var _ server.Hosting = (*Host)(nil)

// New returns the Host of opts.
func New(opts Options) (*Host, error) {
	if opts.Storage == nil {
		return nil, errors.New("hosting: no storage")
	}
	if opts.RequireProofs && opts.VerifyCache == nil {
		return nil, errors.New("hosting: requiring proofs needs a key cache to verify them with")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Host{opts: opts}, nil
}

// Features reports the hooks the options turn on.
func (h *Host) Features() server.Features {
	return server.Features{
		RequireProofs: h.opts.RequireProofs,
		CheckProof:    h.opts.VerifyCache != nil,
		Prove:         h.opts.ProveCache != nil,
		ZKSettings:    h.opts.ZK,
		NFTHolder:     h.opts.NFT != nil,
	}
}

// Open opens repository name in the storage.
func (h *Host) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := h.opts.Storage.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return h.wrap(name, r), nil
}

// Create creates repository name in the storage.
func (h *Host) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := h.opts.Storage.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return h.wrap(name, r), nil
}

// Names lists the storage's repositories.
func (h *Host) Names(ctx context.Context) ([]string, error) { return h.opts.Storage.Names(ctx) }

// Check checks the storage.
func (h *Host) Check(ctx context.Context) error { return h.opts.Storage.Check(ctx) }

// RemoveStale passes the storage's clean-up of interrupted creations on.
func (h *Host) RemoveStale(ctx context.Context, cutoff time.Time) error {
	if rs, ok := h.opts.Storage.(interface {
		RemoveStale(context.Context, time.Time) error
	}); ok {
		return rs.RemoveStale(ctx, cutoff)
	}
	return nil
}

func (h *Host) wrap(name string, r server.Repository) *Repo {
	return &Repo{Repository: r, name: name, h: h}
}

// Repo is one hosted repository: its storage (the embedded Repository,
// opened once) and the hooks.
type Repo struct {
	server.Repository
	name string
	h    *Host
}

var _ server.Repository = (*Repo)(nil)

// Unwrap returns the storage's repository beneath the hooks.
func (r *Repo) Unwrap() server.Repository { return r.Repository }

var errOff = fmt.Errorf("hosting: hook off: %w", errors.ErrUnsupported)

// bare returns package repo's view of the repository over its open
// stores for the call of ctx: the bare repository of its directory when
// its refs are files there (its config file, read anew, holds the zk
// settings), else repo.OpenHosted with the zk settings of its
// repometa.Store.
func (r *Repo) bare(ctx context.Context) (*repo.Repo, error) {
	if rs, ok := refs.Files(r.Refs()); ok {
		return repo.OpenBareStores(rs.Dir(), r.Objects(), rs)
	}
	zk, err := r.Meta().ZK(ctx)
	if err != nil {
		return nil, fmt.Errorf("hosting: zk settings of %s: %w", r.name, err)
	}
	return repo.OpenHosted(ctx, r.name, r.Objects(), r.Refs(), zk)
}

// CheckProof verifies the proof of commit (the proofs of proofs
// overriding the stored ones) with the repository's keys and settings;
// with RequireProofs, an update proof also needs the repository's zk.linf.
func (r *Repo) CheckProof(ctx context.Context, commit objects.ID, proofs map[objects.ID]objects.ID) error {
	if r.h.opts.VerifyCache == nil {
		return errOff
	}
	rr, err := r.bare(ctx)
	if err != nil {
		return err
	}
	// the bound: requireBound below, under RequireProofs
	rep, err := proving.Verify(ctx, rr, commit.String(), proving.VerifyOptions{Cache: r.h.opts.VerifyCache, RequireProof: true, Proofs: proofs, UncheckedBound: true})
	if err != nil || !r.h.opts.RequireProofs {
		return err
	}
	return requireBound(rr, r.name, rep)
}

// RequireProofs verifies the stored proof of commit (CheckProof without
// overrides).
func (r *Repo) RequireProofs(ctx context.Context, commit objects.ID) error {
	if !r.h.opts.RequireProofs {
		return errOff
	}
	return r.CheckProof(ctx, commit, nil)
}

// requireBound refuses, under RequireProofs, an update proof verified in
// a repository without zk.linf: the bound it was proven against was
// compared with nothing (server.ErrSettingMissing names the setting).
func requireBound(rr *repo.Repo, name string, rep *proving.VerifyReport) error {
	s, err := proving.ReadSettings(rr)
	if err != nil {
		return err
	}
	for _, c := range rep.Commits {
		if c.Kind == zk.KindUpdate.String() && !s.HasLinf {
			return fmt.Errorf("%w: repository %s has no zk.linf, the bound an update proof must meet (its owner sets it: fed config --remote REMOTE zk.linf BOUND)", server.ErrSettingMissing, name)
		}
	}
	return nil
}

// Prove proves commit and attaches its proof, when the repository has zk
// settings (nothing to prove with otherwise).
func (r *Repo) Prove(ctx context.Context, commit objects.ID) error {
	if r.h.opts.ProveCache == nil {
		return errOff
	}
	rr, err := r.bare(ctx)
	if err != nil {
		return err
	}
	if on, _, err := proving.Enabled(rr); err != nil || !on {
		return err // no zk settings: nothing to prove with
	}
	res, err := proving.Prove(ctx, rr, commit.String(), proving.ProveOptions{Cache: r.h.opts.ProveCache, Setup: r.h.opts.ProveSetup})
	if err != nil {
		return err
	}
	for _, p := range res {
		if !p.Skipped {
			r.h.opts.Logger.Info("proved", slog.String("repo", r.name), slog.String("commit", p.Commit.String()),
				slog.String("kind", p.Kind), slog.Int("chunks", p.Chunks), slog.String("keys", fmt.Sprint(p.Keys)))
		}
	}
	return nil
}

// ZKSettings reads or changes the zk settings in the repository's config;
// a change the settings parser refuses saves nothing.
func (r *Repo) ZKSettings(ctx context.Context, set map[string]string) (map[string]string, error) {
	if !r.h.opts.ZK {
		return nil, errOff
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := refs.Files(r.Refs()); !ok {
		return r.zkInMeta(ctx, set) // no directory, no config file
	}
	rr, err := r.bare(ctx)
	if err != nil {
		return nil, err
	}
	if set != nil {
		for k, v := range set {
			if v == "" {
				err = rr.Config.Unset(k)
			} else {
				err = rr.Config.Set(k, v)
			}
			if err != nil {
				return nil, err
			}
		}
		if _, err := proving.ReadSettings(rr); err != nil {
			return nil, err // nothing saved
		}
		if err := rr.Config.Save(); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, k := range remote.ZKSettingKeys {
		if v, ok := rr.Config.Get(k); ok && v != "" {
			out[k] = v
		}
	}
	return out, nil
}

// zkInMeta reads or changes the zk settings a repometa.Store keeps (a
// repository not kept as a directory); values are checked as `fed config`
// checks them.
func (r *Repo) zkInMeta(ctx context.Context, set map[string]string) (map[string]string, error) {
	if set == nil {
		return r.Meta().ZK(ctx)
	}
	for k := range set {
		if !slices.Contains(remote.ZKSettingKeys, k) {
			return nil, fmt.Errorf("zk settings: unknown key %s (the keys are %s)", k, strings.Join(remote.ZKSettingKeys, ", "))
		}
	}
	return r.Meta().UpdateZK(ctx, set, func(next map[string]string) error {
		scratch, err := repo.LoadUserConfig("") // an empty config: only Set's checks
		if err != nil {
			return err
		}
		for k, v := range next {
			if err := scratch.Set(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// NFTHolder asks the chain (through the holder cache) who holds mint for
// the repository id; a node that cannot be asked, or answers nonsense, is
// server.ErrChainUnavailable, so that the server answers 503 rather than
// 403.
func (r *Repo) NFTHolder(ctx context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error) {
	if r.h.opts.NFT == nil {
		return objects.PublicKey{}, errOff
	}
	k, err := r.h.opts.NFT.RepoHolder(ctx, mint, repoID)
	if errors.Is(err, nft.ErrUnreachable) || errors.Is(err, nft.ErrRPC) || errors.Is(err, context.DeadlineExceeded) {
		return k, fmt.Errorf("%w: %w", server.ErrChainUnavailable, err)
	}
	return k, err
}
