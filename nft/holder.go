package nft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// Holder returns the wallet holding NFT mint now, asking the node at
// rpcURL.
func Holder(ctx context.Context, rpcURL string, mint objects.PublicKey) (objects.PublicKey, error) {
	c := NewClient(rpcURL)
	defer c.Close()
	return c.Holder(ctx, mint)
}

// HolderCache answers Holder from memory for a short while, so a server
// does not ask the chain on every request. Errors are not cached. It is
// safe for concurrent use.
type HolderCache struct {
	client *Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[objects.PublicKey]holderEntry
}

type holderEntry struct {
	holder  objects.PublicKey
	repo    string // the fed.repo field
	expires time.Time
}

// ErrWrongRepo reports an NFT whose fed.repo names another repository.
var ErrWrongRepo = errors.New("nft: the NFT belongs to another repository")

// DefaultHolderTTL is how long HolderCache trusts an answer: after a
// transfer, the old holder keeps the owner's rights for at most this long.
const DefaultHolderTTL = 30 * time.Second

// NewHolderCache returns a cache over the node at rpcURL; ttl <= 0 means
// DefaultHolderTTL.
func NewHolderCache(rpcURL string, ttl time.Duration) *HolderCache {
	if ttl <= 0 {
		ttl = DefaultHolderTTL
	}
	return &HolderCache{client: NewClient(rpcURL), ttl: ttl, now: time.Now, entries: map[objects.PublicKey]holderEntry{}}
}

// Holder returns the holder of mint, from the cache when fresh.
func (h *HolderCache) Holder(ctx context.Context, mint objects.PublicKey) (objects.PublicKey, error) {
	e, err := h.entry(ctx, mint)
	return e.holder, err
}

// RepoHolder returns the holder of mint after checking that the NFT's
// fed.repo is repoID (ErrWrongRepo otherwise): what a server asks before
// giving the holder a repository owner's rights.
func (h *HolderCache) RepoHolder(ctx context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error) {
	e, err := h.entry(ctx, mint)
	if err != nil {
		return objects.PublicKey{}, err
	}
	if e.repo != repoID.String() {
		return objects.PublicKey{}, fmt.Errorf("NFT %s: %w: its %s is %q, not %s", mint, ErrWrongRepo, FieldRepo, e.repo, repoID)
	}
	return e.holder, nil
}

func (h *HolderCache) entry(ctx context.Context, mint objects.PublicKey) (holderEntry, error) {
	now := h.now()
	h.mu.Lock()
	e, ok := h.entries[mint]
	h.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e, nil
	}
	m, err := h.client.mint(ctx, mint)
	if err != nil {
		return holderEntry{}, err
	}
	_, ta, err := h.client.holding(ctx, mint)
	if err != nil {
		return holderEntry{}, err
	}
	repo, _ := m.Metadata.Get(FieldRepo)
	e = holderEntry{holder: ta.Owner, repo: repo, expires: now.Add(h.ttl)}
	h.mu.Lock()
	if len(h.entries) > 10000 {
		for k, v := range h.entries {
			if !now.Before(v.expires) {
				delete(h.entries, k)
			}
		}
	}
	h.entries[mint] = e
	h.mu.Unlock()
	return e, nil
}

// Forget drops mint from the cache (after a transfer this server saw).
func (h *HolderCache) Forget(mint objects.PublicKey) {
	h.mu.Lock()
	delete(h.entries, mint)
	h.mu.Unlock()
}
