package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// CloneOptions tune Clone.
type CloneOptions struct {
	URL string
	// Dir is the new repository's directory (default: the last component
	// of the repository name, in the current directory). It must not exist
	// or be empty.
	Dir string
	// Depth > 0 makes a shallow clone (1: only the latest commit).
	Depth int
	// Branch to check out (default: the remote's HEAD branch).
	Branch   string
	Key      *objects.Keypair
	Progress repo.Progress
	Client   remote.Options
	// UserConfig is the user's config file (see repo.Options).
	UserConfig string
}

// Clone makes a new repository from a remote one: it adds the remote as
// repo.DefaultRemote, fetches, creates the local branch and checks it
// out. A failed clone removes the directory it made.
func Clone(ctx context.Context, opts CloneOptions) (_ *repo.Repo, err error) {
	_, name, err := remote.ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		opts.Dir = path.Base(name)
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("clone: destination %s exists and is not empty", opts.Dir)
	}
	_, statErr := os.Stat(opts.Dir)
	made := errors.Is(statErr, fs.ErrNotExist)
	r, err := repo.InitWith(opts.Dir, repo.Options{UserConfig: opts.UserConfig})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if made {
				os.RemoveAll(r.Root)
			} else {
				os.RemoveAll(r.Dir)
			}
		}
	}()
	r.Key = opts.Key
	if opts.Progress != nil {
		r.Progress = opts.Progress
	}
	if err := r.RemoteAdd(repo.DefaultRemote, opts.URL); err != nil {
		return nil, err
	}
	// The lock is held from the fetch on: the fetch writes the files it
	// prepares into the working tree (.fed-tmp-*), and only files written
	// under the lock are known to be in use (the sweep of temporaries).
	unlock, err := r.Lock(repo.LockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer r.DropPrebuilt()
	fr, err := Fetch(ctx, r, FetchOptions{Remote: repo.DefaultRemote, Depth: opts.Depth, Client: opts.Client, Prepare: opts.Branch, Prepared: true})
	if err != nil {
		return nil, err
	}
	if err := checkoutClone(ctx, r, opts, fr.Head); err != nil {
		return nil, err
	}
	return r, nil
}

// checkoutClone creates the cloned branch (opts.Branch, else the
// remote's HEAD branch head, else its first branch) and checks it out;
// an empty remote leaves HEAD unborn.
func checkoutClone(ctx context.Context, r *repo.Repo, opts CloneOptions, head string) error {
	branch := opts.Branch
	if branch == "" {
		branch = head
	}
	tip, err := r.Refs.Read(refs.Remote(repo.DefaultRemote, branch))
	if errors.Is(err, refs.ErrNotFound) && opts.Branch == "" {
		// The remote's HEAD branch is unborn: take its first branch, if any.
		all, lerr := r.Refs.List(refs.RemotesPrefix + repo.DefaultRemote + "/")
		if lerr != nil || len(all) == 0 {
			return nil // an empty repository
		}
		branch = strings.TrimPrefix(string(all[0].Name), refs.RemotesPrefix+repo.DefaultRemote+"/")
		tip, err = all[0].ID, nil
	}
	if err != nil {
		return fmt.Errorf("clone: remote branch %s: %w", branch, err)
	}
	// Check out while HEAD is still unborn, then point the branch at tip.
	// Model files whose weights were withheld (private contributions) are
	// tracked but left out of the working tree (WeightsWithheld tells the
	// caller; status shows them as 'W').
	files, err := r.CommitFiles(ctx, tip)
	if err != nil {
		return err
	}
	if err := r.CheckoutFiles(ctx, "clone", nil, files, false); err != nil {
		return err
	}
	if err := r.Refs.Update(refs.Branch(branch), objects.ZeroID, tip, r.Entry("clone: from "+opts.URL)); err != nil {
		return err
	}
	if err := r.Refs.SetHead(refs.Head{Symbolic: refs.Branch(branch), ID: tip}, r.Entry("clone: checkout "+branch)); err != nil {
		return err
	}
	r.Config.Set("branch."+branch+".remote", repo.DefaultRemote)
	r.Config.Set("branch."+branch+".merge", refs.HeadsPrefix+branch)
	return r.Config.Save()
}
