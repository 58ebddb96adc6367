package nftlink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

// nrepo is a repository seen by this package: the moved methods keep
// their receiver.
type nrepo struct{ *repo.Repo }

// Config keys of the Solana integration.
const (
	ConfigSolanaRPC = "solana.rpc"
	ConfigNFTMint   = "nft.mint"
)

// ErrNoRPC reports that no Solana RPC node is configured anywhere.
var ErrNoRPC = errors.New("nftlink: no Solana RPC node configured")

// ReleaseNFTKey is the config key holding the mint of tag's release NFT.
func ReleaseNFTKey(tag string) string { return "release." + tag + ".nft" }

// ResolveSolanaRPC picks the RPC node: flag when set, else config
// solana.rpc (cfg may be nil), else json_rpc_url of the Solana CLI's
// config file cliConfig (the caller finds it, cmd/fed in
// ~/.config/solana/cli/config.yml; "" for none). source says which one it
// was.
func ResolveSolanaRPC(flag string, cfg *repo.Config, cliConfig string) (url, source string, err error) {
	if flag != "" {
		return flag, "--rpc", nil
	}
	if cfg != nil {
		if v, ok := cfg.Get(ConfigSolanaRPC); ok && v != "" {
			return v, "config " + ConfigSolanaRPC, nil
		}
	}
	p := cliConfig
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || p == "" {
		return "", "", ErrNoRPC
	}
	if err != nil {
		return "", "", fmt.Errorf("read Solana CLI config: %w", err)
	}
	if u := yamlValue(b, "json_rpc_url"); u != "" {
		return u, p, nil
	}
	return "", "", fmt.Errorf("%w (%s has no json_rpc_url)", ErrNoRPC, p)
}

// yamlValue finds a top-level "key: value" line of a simple YAML file
// (the Solana CLI writes flat keys), unquoting the value.
func yamlValue(b []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return ""
}

// RepoID is the repository's id: the root commit reached from HEAD by
// first parents. It is what the NFT's fed.repo field and anchors name.
func RepoID(ctx context.Context, r *repo.Repo) (objects.ID, error) {
	return nrepo{r}.repoID(ctx)
}

func (r nrepo) repoID(ctx context.Context) (objects.ID, error) {
	head, _, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	if head.IsZero() {
		return objects.ZeroID, fmt.Errorf("%w: HEAD has no commits yet; commit before minting or anchoring", repo.ErrUnknownRev)
	}
	id := head
	for {
		c, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			return objects.ZeroID, fmt.Errorf("find the root commit: %w", err)
		}
		if len(c.Parents) == 0 {
			return id, nil
		}
		id = c.Parents[0]
	}
}

// MintOptions builds the metadata of the repository NFT (release "")
// or of the release NFT of tag release: name "fed: <dir>[ <tag>]",
// symbol FED, uri the metadata document fed serve answers for the origin
// remote (or the first remote): MetadataURI of its URL; fields fed.repo
// and, for a release, fed.tag, fed.commit and fed.tree.
func MintOptions(ctx context.Context, r *repo.Repo, release string) (nft.MintOptions, error) {
	return nrepo{r}.mintOptions(ctx, release)
}

func (r nrepo) mintOptions(ctx context.Context, release string) (nft.MintOptions, error) {
	id, err := r.repoID(ctx)
	if err != nil {
		return nft.MintOptions{}, err
	}
	name := "fed: " + filepath.Base(r.Root)
	opts := nft.MintOptions{Symbol: "FED", Fields: []nft.Field{{Key: nft.FieldRepo, Value: id.String()}}}
	if rs, err := r.Remotes(); err == nil && len(rs) > 0 {
		remoteURL := rs[0].URL
		for _, rm := range rs {
			if rm.Name == repo.DefaultRemote {
				remoteURL = rm.URL
			}
		}
		opts.URI = MetadataURI(remoteURL, release)
	}
	if release != "" {
		tagID, err := r.Refs.Read(refs.Tag(release))
		if errors.Is(err, refs.ErrNotFound) {
			return nft.MintOptions{}, fmt.Errorf("%w: no tag %s", repo.ErrUnknownRev, release)
		}
		if err != nil {
			return nft.MintOptions{}, err
		}
		commit, err := r.Peel(ctx, tagID, release)
		if err != nil {
			return nft.MintOptions{}, err
		}
		c, err := objects.ReadCommit(ctx, r.Objects, commit)
		if err != nil {
			return nft.MintOptions{}, fmt.Errorf("release %s: %w", release, err)
		}
		name += " " + release
		opts.Fields = append(opts.Fields,
			nft.Field{Key: nft.FieldTag, Value: release},
			nft.Field{Key: nft.FieldCommit, Value: commit.String()},
			nft.Field{Key: nft.FieldTree, Value: c.Tree.String()})
	}
	if len(name) > nft.MaxName {
		name = name[:nft.MaxName]
	}
	opts.Name = strings.ToValidUTF8(name, "")
	return opts, nil
}

// Mint mints the repository NFT (release "") or tag release's NFT to
// r.Key and records its mint in the config. It refuses with
// nft.ErrAlreadyMinted when the config names a mint that exists on the
// node; replaced is the recorded mint that does not exist there (another
// network), if any.
// A uri not empty replaces the metadata's (ValidateURI checks it).
func Mint(ctx context.Context, r *repo.Repo, c *nft.Client, release, uri string) (res *nft.MintResult, replaced string, err error) {
	return nrepo{r}.mint(ctx, c, release, uri)
}

// MetadataURI returns the URL of the NFT metadata document (doc/protocol.md
// §10.1) fed serve answers for the repository at remote URL remoteURL
// (http or https): <remoteURL>/-/nft.json, or for the release of tag
// release <remoteURL>/-/nft/<tag, path-escaped>.json. It returns "" when
// the remote is not served over HTTP (a directory) or the URL would
// exceed nft.MaxURI.
func MetadataURI(remoteURL, release string) string {
	u, err := url.Parse(remoteURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	s := strings.TrimSuffix(remoteURL, "/") + "/-/nft.json"
	if release != "" {
		s = strings.TrimSuffix(remoteURL, "/") + "/-/nft/" + url.PathEscape(release) + ".json"
	}
	if len(s) > nft.MaxURI {
		return ""
	}
	return s
}

// ValidateURI checks a uri given for the metadata: an http or https URL
// with a host, of at most nft.MaxURI bytes.
func ValidateURI(uri string) error {
	if len(uri) > nft.MaxURI {
		return fmt.Errorf("uri of %d bytes: the metadata holds at most %d", len(uri), nft.MaxURI)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("uri %q: %w", uri, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("uri %q: want an http or https URL with a host", uri)
	}
	return nil
}

func (r nrepo) mint(ctx context.Context, c *nft.Client, release, uri string) (res *nft.MintResult, replaced string, err error) {
	if r.Key == nil {
		return nil, "", repo.ErrNoKey
	}
	key := ConfigNFTMint
	if release != "" {
		key = ReleaseNFTKey(release)
	}
	if old, ok := r.Config.Get(key); ok && old != "" {
		mint, err := objects.ParsePublicKey(old)
		if err != nil {
			return nil, "", fmt.Errorf("config %s: %w", key, err)
		}
		_, err = c.Show(ctx, mint)
		switch {
		case err == nil:
			return nil, "", fmt.Errorf("%w: %s is NFT %s (config %s)", nft.ErrAlreadyMinted, nftWhat(release), old, key)
		case errors.Is(err, nft.ErrNotFound):
			replaced = old
		default:
			return nil, "", err
		}
	}
	opts, err := r.mintOptions(ctx, release)
	if err != nil {
		return nil, "", err
	}
	if uri != "" {
		if err := ValidateURI(uri); err != nil {
			return nil, "", err
		}
		opts.URI = uri
	}
	res, err = c.Mint(ctx, r.Key, opts)
	if err != nil {
		return nil, "", err
	}
	if err := r.Config.Set(key, res.Mint.String()); err != nil {
		return res, replaced, err
	}
	if err := r.Config.Save(); err != nil {
		return res, replaced, fmt.Errorf("record mint %s in config: %w", res.Mint, err)
	}
	return res, replaced, nil
}

func nftWhat(release string) string {
	if release == "" {
		return "the repository"
	}
	return "release " + release
}

// MintOf returns the mint recorded for the repository (release "") or a
// release.
func MintOf(r *repo.Repo, release string) (objects.PublicKey, error) {
	return nrepo{r}.mintOf(release)
}

func (r nrepo) mintOf(release string) (objects.PublicKey, error) {
	key := ConfigNFTMint
	if release != "" {
		key = ReleaseNFTKey(release)
	}
	v, ok := r.Config.Get(key)
	if !ok || v == "" {
		return objects.PublicKey{}, fmt.Errorf("%s has no NFT (config %s is not set): %w", nftWhat(release), key, ErrNoNFT)
	}
	k, err := objects.ParsePublicKey(v)
	if err != nil {
		return k, fmt.Errorf("config %s: %w", key, err)
	}
	return k, nil
}

// ErrNoNFT reports a repository without a recorded NFT.
var ErrNoNFT = errors.New("nftlink: no NFT minted")

// Info is an NFT as seen from this repository.
type Info struct {
	NFT *nft.Info `json:"nft"`
	// RepoMatch tells whether the NFT's fed.repo is this repository's id.
	RepoMatch bool       `json:"repo_match"`
	RepoID    objects.ID `json:"repo_id"`
}

// Show reads NFT mint and checks its fed.repo against this
// repository.
func Show(ctx context.Context, r *repo.Repo, c *nft.Client, mint objects.PublicKey) (*Info, error) {
	return nrepo{r}.show(ctx, c, mint)
}

func (r nrepo) show(ctx context.Context, c *nft.Client, mint objects.PublicKey) (*Info, error) {
	info, err := c.Show(ctx, mint)
	if err != nil {
		return nil, err
	}
	s := &Info{NFT: info}
	if id, err := r.repoID(ctx); err == nil {
		s.RepoID = id
		v, _ := info.Metadata.Get(nft.FieldRepo)
		s.RepoMatch = v == id.String()
	}
	return s, nil
}

// Transfer gives the repository NFT to the wallet to.
func Transfer(ctx context.Context, r *repo.Repo, c *nft.Client, to objects.PublicKey) (string, error) {
	return nrepo{r}.transfer(ctx, c, to)
}

func (r nrepo) transfer(ctx context.Context, c *nft.Client, to objects.PublicKey) (string, error) {
	if r.Key == nil {
		return "", repo.ErrNoKey
	}
	mint, err := r.mintOf("")
	if err != nil {
		return "", err
	}
	return c.Transfer(ctx, r.Key, mint, to)
}

// anchorsFile lists the anchors written from this repository.
const anchorsFile = "anchors"

// AnchorEntry is one line of .fed/anchors.
type AnchorEntry struct {
	Commit    objects.ID
	Signature string
}

// Anchors reads .fed/anchors.
func Anchors(r *repo.Repo) ([]AnchorEntry, error) {
	return nrepo{r}.anchors()
}

func (r nrepo) anchors() ([]AnchorEntry, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, anchorsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []AnchorEntry
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		c, s, ok := strings.Cut(line, " ")
		id, err := objects.ParseID(c)
		if !ok || err != nil || s == "" {
			return nil, fmt.Errorf("%s line %d: want \"<commit> <signature>\"", filepath.Join(r.Dir, anchorsFile), i+1)
		}
		out = append(out, AnchorEntry{Commit: id, Signature: s})
	}
	return out, nil
}

// Anchor writes commit rev's id (and its zk.root, when the commit
// records one) to the chain with the Memo program, signed by r.Key, and
// records the transaction in .fed/anchors.
func Anchor(ctx context.Context, r *repo.Repo, c *nft.Client, rev string) (*nft.Anchor, error) {
	return nrepo{r}.anchor(ctx, c, rev)
}

func (r nrepo) anchor(ctx context.Context, c *nft.Client, rev string) (*nft.Anchor, error) {
	if r.Key == nil {
		return nil, repo.ErrNoKey
	}
	if rev == "" {
		rev = "HEAD"
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, err
	}
	commit, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return nil, fmt.Errorf("anchor %s: %w", rev, err)
	}
	repoID, err := r.repoID(ctx)
	if err != nil {
		return nil, err
	}
	rec := nft.AnchorRecord{Repo: repoID, Commit: id}
	if v, ok := commit.Value(repo.MetaZKRoot); ok {
		rec.ZKRoot = v
	}
	a, err := c.Anchor(ctx, r.Key, rec)
	if err != nil {
		return nil, err
	}
	list, err := r.anchors()
	if err != nil {
		return a, err
	}
	list = append(list, AnchorEntry{Commit: id, Signature: a.Signature})
	var buf bytes.Buffer
	for _, e := range list {
		fmt.Fprintf(&buf, "%s %s\n", e.Commit, e.Signature)
	}
	if err := fsys.WriteFile(filepath.Join(r.Dir, anchorsFile), 0o644, buf.Bytes()); err != nil {
		return a, fmt.Errorf("record anchor %s: %w", a.Signature, err)
	}
	return a, nil
}

// AnchorCheck is the verification of one anchor.
type AnchorCheck struct {
	Anchor   nft.Anchor `json:"anchor"`
	OK       bool       `json:"ok"`
	Problem  string     `json:"problem,omitempty"`
	Recorded bool       `json:"recorded"` // listed in .fed/anchors (else found on chain)
}

// VerifyAnchors reads every anchor recorded in .fed/anchors, and those
// signed by signers (when given) found on chain, and checks that each
// names this repository, that its commit is in the history (reachable
// from a branch or tag) and that its zk root is the commit's zk.root.
func VerifyAnchors(ctx context.Context, r *repo.Repo, c *nft.Client, signers ...objects.PublicKey) ([]AnchorCheck, error) {
	return nrepo{r}.verifyAnchors(ctx, c, signers...)
}

func (r nrepo) verifyAnchors(ctx context.Context, c *nft.Client, signers ...objects.PublicKey) ([]AnchorCheck, error) {
	repoID, err := r.repoID(ctx)
	if err != nil {
		return nil, err
	}
	var starts []objects.ID
	all, err := r.Refs.List("")
	if err != nil {
		return nil, err
	}
	for _, ref := range all {
		if strings.HasPrefix(string(ref.Name), refs.HeadsPrefix) || strings.HasPrefix(string(ref.Name), refs.TagsPrefix) {
			id, err := r.Peel(ctx, ref.ID, string(ref.Name))
			if err == nil {
				starts = append(starts, id)
			}
		}
	}
	history, err := r.Reachable(ctx, starts...)
	if err != nil {
		return nil, err
	}
	recorded, err := r.anchors()
	if err != nil {
		return nil, err
	}
	var out []AnchorCheck
	seen := map[string]bool{}
	check := func(a nft.Anchor, want objects.ID, isRecorded bool) {
		ch := AnchorCheck{Anchor: a, Recorded: isRecorded}
		switch {
		case a.Repo != repoID:
			ch.Problem = fmt.Sprintf("names repository %s, not this one (%s)", a.Repo.Short(), repoID.Short())
		case !want.IsZero() && a.Commit != want:
			ch.Problem = fmt.Sprintf("anchors commit %s, but .fed/anchors says %s", a.Commit.Short(), want.Short())
		case !history[a.Commit]:
			ch.Problem = fmt.Sprintf("commit %s is not in the history", a.Commit.Short())
		default:
			cm, err := objects.ReadCommit(ctx, r.Objects, a.Commit)
			if err != nil {
				ch.Problem = err.Error()
				break
			}
			v, has := cm.Value(repo.MetaZKRoot)
			if a.ZKRoot != "" && (!has || v != a.ZKRoot) {
				ch.Problem = fmt.Sprintf("anchored zk root %.12s… differs from the commit's %s %q", a.ZKRoot, repo.MetaZKRoot, v)
				break
			}
			ch.OK = true
		}
		out = append(out, ch)
	}
	for _, e := range recorded {
		seen[e.Signature] = true
		a, err := c.ReadAnchor(ctx, e.Signature)
		if err != nil {
			if errors.Is(err, nft.ErrUnreachable) || errors.Is(err, context.Canceled) {
				return out, err
			}
			out = append(out, AnchorCheck{Anchor: nft.Anchor{AnchorRecord: nft.AnchorRecord{Commit: e.Commit}, Signature: e.Signature}, Recorded: true, Problem: err.Error()})
			continue
		}
		check(*a, e.Commit, true)
	}
	for _, s := range signers {
		found, err := c.Anchors(ctx, s, repoID, 0)
		if err != nil {
			return out, err
		}
		for _, a := range found {
			if !seen[a.Signature] {
				seen[a.Signature] = true
				check(a, objects.ZeroID, false)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Anchor.Slot < out[j].Anchor.Slot })
	return out, nil
}
