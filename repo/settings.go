package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Signed settings (doc/design.md §15.6, doc/protocol.md §6.8.1).
//
// A server holds the repository's zk settings as a settings commit signed
// by the owner under remote.SettingsRef. Fetch and clone download it like
// a branch, check that it is well formed, that the owner the server names
// signed it and that it descends from the settings this repository held
// before (a server cannot roll them back), and keep it as
// refs/meta/<remote>/settings. proving.ReadSettings falls back to the settings of
// the current branch's remote for every key .fed/config does not set, so
// a clone checks proofs against the repository's bounds.

// ErrSettingsRollback reports fetched settings that do not descend from
// the settings this repository holds.
var ErrSettingsRollback = errors.New("repo: signed settings do not replace the ones held")

// SettingsRef returns the local ref holding remoteName's signed settings.
func SettingsRef(remoteName string) refs.Name {
	return refs.Name("refs/meta/" + remoteName + "/settings")
}

// SignedSettings are a remote's zk settings as its owner signed them.
type SignedSettings struct {
	Remote string
	Commit objects.ID
	Signer objects.PublicKey
	ZK     map[string]string
}

// RemoteSettings returns the signed settings fetched from remoteName, nil
// when there are none.
func (r *Repo) RemoteSettings(ctx context.Context, remoteName string) (*SignedSettings, error) {
	id, err := r.Refs.Read(SettingsRef(remoteName))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return nil, fmt.Errorf("settings of %s: %w", remoteName, err)
	}
	zk, err := remote.ParseSettingsCommit(c)
	if err != nil {
		return nil, fmt.Errorf("settings of %s (%s): %w", remoteName, SettingsRef(remoteName), err)
	}
	return &SignedSettings{Remote: remoteName, Commit: id, Signer: c.Author, ZK: zk}, nil
}

// SettingsRemote is the remote whose signed settings the zk settings
// (proving.ReadSettings) fall back to: the current branch's remote, else
// DefaultRemote.
func (r *Repo) SettingsRemote() string {
	if _, cur, err := r.Head(); err == nil && cur != "" {
		if v, ok := r.Config.Get("branch." + cur.Short() + ".remote"); ok && v != "" {
			return v
		}
	}
	return DefaultRemote
}

// PublishSettings signs zk (keys of remote.ZKSettingKeys) as the settings
// of the repository on remoteName with this repository's key, replacing
// the server's current settings commit, and keeps the result as
// SettingsRef(remoteName). The server takes it from the owner only.
func (r *Repo) PublishSettings(ctx context.Context, remoteName string, zk map[string]string) (objects.ID, error) {
	if r.Key == nil {
		return objects.ZeroID, fmt.Errorf("sign settings: %w", ErrNoKey)
	}
	disk, err := r.Disk()
	if err != nil {
		return objects.ZeroID, err
	}
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return objects.ZeroID, err
	}
	list, err := c.Refs(ctx)
	if err != nil {
		return objects.ZeroID, fmt.Errorf("sign settings: %w", err)
	}
	var old objects.ID
	for _, ref := range list.Refs {
		if ref.Name == remote.SettingsRef {
			old = ref.ID
		}
	}
	cm := remote.NewSettingsCommit(zk, old, time.Now().Unix())
	if err := objects.SignCommit(cm, r.Key); err != nil {
		return objects.ZeroID, err
	}
	_, tree := remote.EmptyTree()
	if _, err := r.Objects.Put(ctx, tree, objects.PutOptions{}); err != nil {
		return objects.ZeroID, err
	}
	id, err := objects.Write(ctx, r.Objects, cm)
	if err != nil {
		return objects.ZeroID, err
	}
	treeID, _ := remote.EmptyTree()
	if _, err := c.SendMissing(ctx, disk, []objects.ID{id, treeID}); err != nil {
		return objects.ZeroID, fmt.Errorf("sign settings: %w", err)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: remote.SettingsRef, Old: old, New: id}}); err != nil {
		return objects.ZeroID, fmt.Errorf("sign settings: %w", err)
	}
	err = r.Refs.Transaction([]refs.Update{{Name: SettingsRef(remoteName), New: id, Force: true}}, r.entry("config --remote: signed settings"))
	return id, err
}
