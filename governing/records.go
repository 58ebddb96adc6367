package governing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// Governance records in a working repository (doc/design.md §19,
// doc/protocol.md §6.9): reviews and attestations are signed here and
// kept under their own names (refs/reviews/…, refs/attestations/…), the
// same as on every server; a remote's policies and name map are kept as
// refs/meta/<remote>/policy/<branch> and refs/meta/<remote>/names. Every
// push sends the reviews and attestations the server lacks; fetch brings
// the server's.

// ErrBadGovernance reports a governance record a server handed out that
// is malformed or signed by someone other than the owner it names.
var ErrBadGovernance = errors.New("governing: bad governance record")

// PolicyRef returns the local ref of remoteName's policy of branch.
func PolicyRef(remoteName, branch string) refs.Name {
	return refs.Name("refs/meta/" + remoteName + "/policy/" + branch)
}

// NamesRef returns the local ref of remoteName's name map.
func NamesRef(remoteName string) refs.Name {
	return refs.Name("refs/meta/" + remoteName + "/names")
}

// storeRecord signs rec with r's key and stores it with the empty tree.
func storeRecord(ctx context.Context, r *repo.Repo, rec governance.Record) (objects.ID, error) {
	if r.Key == nil {
		return objects.ZeroID, fmt.Errorf("sign %s: %w", rec.Kind(), repo.ErrNoKey)
	}
	c, err := governance.Sign(rec, r.Key)
	if err != nil {
		return objects.ZeroID, err
	}
	_, tree := governance.EmptyTree()
	if _, err := r.Objects.Put(ctx, tree, objects.PutOptions{}); err != nil {
		return objects.ZeroID, err
	}
	return objects.Write(ctx, r.Objects, c)
}

// ReviewOptions says what a review says.
type ReviewOptions struct {
	Verdict string // governance.Approve, Reject or Comment
	Message string
}

// Review signs a review of the commit rev names and keeps it under its
// ref; it returns the review and its ref.
func Review(ctx context.Context, r *repo.Repo, rev string, opts ReviewOptions) (*governance.Review, string, error) {
	if err := governance.CheckVerdict(opts.Verdict); err != nil {
		return nil, "", err
	}
	commit, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, "", err
	}
	if r.Key == nil {
		return nil, "", fmt.Errorf("sign review: %w", repo.ErrNoKey)
	}
	reviews, _, err := Records(ctx, r, commit)
	if err != nil {
		return nil, "", err
	}
	rv := &governance.Review{Head: governance.Head{Time: r.Now().Unix(), Message: opts.Message, Parent: lastOwn(reviews, r.Key.Public(), commit)}, Commit: commit, Verdict: opts.Verdict}
	id, err := storeRecord(ctx, r, rv)
	if err != nil {
		return nil, "", err
	}
	name := governance.ReviewRef(commit, id)
	err = r.Refs.Transaction([]refs.Update{{Name: refs.Name(name), New: id}}, r.Entry("review "+opts.Verdict))
	return rv, name, err
}

// AttestOptions is what an attestation records.
type AttestOptions struct {
	Metrics []governance.Metric
	Dataset string // SHA-256 hex of the evaluation data, or ""
	Command string // the command that evaluated, or ""
	Output  string // its output, or ""
	Message string
}

// Attest signs an attestation of the commit rev names and keeps it under
// its ref.
func Attest(ctx context.Context, r *repo.Repo, rev string, opts AttestOptions) (*governance.Attestation, string, error) {
	commit, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, "", err
	}
	if r.Key == nil {
		return nil, "", fmt.Errorf("sign attestation: %w", repo.ErrNoKey)
	}
	_, held, err := Records(ctx, r, commit)
	if err != nil {
		return nil, "", err
	}
	a := &governance.Attestation{Head: governance.Head{Time: r.Now().Unix(), Message: opts.Message, Parent: lastOwn(held, r.Key.Public(), commit)}, Commit: commit,
		Metrics: slices.Clone(opts.Metrics), Dataset: opts.Dataset, Command: opts.Command, Output: opts.Output}
	slices.SortFunc(a.Metrics, func(x, y governance.Metric) int { return strings.Compare(x.Name, y.Name) })
	id, err := storeRecord(ctx, r, a)
	if err != nil {
		return nil, "", err
	}
	// what Parse would refuse is refused before anything points at it
	if _, err := readRecord(ctx, r, id); err != nil {
		return nil, "", err
	}
	name := governance.AttestationRef(commit, id)
	err = r.Refs.Transaction([]refs.Update{{Name: refs.Name(name), New: id}}, r.Entry("attest"))
	return a, name, err
}

func readRecord(ctx context.Context, r *repo.Repo, id objects.ID) (governance.Record, error) {
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return nil, err
	}
	return governance.Parse(id, c)
}

// Records returns the reviews and attestations of commit this repository
// holds, oldest first.
func Records(ctx context.Context, r *repo.Repo, commit objects.ID) ([]*governance.Review, []*governance.Attestation, error) {
	var reviews []*governance.Review
	var attestations []*governance.Attestation
	for _, prefix := range []string{governance.ReviewsPrefix, governance.AttestationsPrefix} {
		list, err := r.Refs.List(prefix + commit.String() + "/")
		if err != nil {
			return nil, nil, err
		}
		for _, l := range list {
			rec, err := readRecord(ctx, r, l.ID)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", l.Name, err)
			}
			switch x := rec.(type) {
			case *governance.Review:
				if x.Commit == commit {
					reviews = append(reviews, x)
				}
			case *governance.Attestation:
				if x.Commit == commit {
					attestations = append(attestations, x)
				}
			}
		}
	}
	slices.SortFunc(reviews, func(a, b *governance.Review) int { return cmpHead(&a.Head, &b.Head) })
	slices.SortFunc(attestations, func(a, b *governance.Attestation) int { return cmpHead(&a.Head, &b.Head) })
	return reviews, attestations, nil
}

func cmpHead(a, b *governance.Head) int {
	if a.Time != b.Time {
		if a.Time < b.Time {
			return -1
		}
		return 1
	}
	return strings.Compare(a.ID.String(), b.ID.String())
}

// Policy returns remoteName's policy of branch as this repository last
// fetched or set it, nil when none.
func Policy(ctx context.Context, r *repo.Repo, remoteName, branch string) (*governance.Policy, error) {
	id, err := r.Refs.Read(PolicyRef(remoteName, branch))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := readRecord(ctx, r, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PolicyRef(remoteName, branch), err)
	}
	p, ok := rec.(*governance.Policy)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %s", ErrBadGovernance, PolicyRef(remoteName, branch), rec.Kind())
	}
	return p, nil
}

// Policies returns remoteName's policies this repository holds, by branch
// (those unset too: Off).
func Policies(ctx context.Context, r *repo.Repo, remoteName string) ([]*governance.Policy, error) {
	prefix := "refs/meta/" + remoteName + "/policy/"
	list, err := r.Refs.List(prefix)
	if err != nil {
		return nil, err
	}
	var out []*governance.Policy
	for _, l := range list {
		p, err := Policy(ctx, r, remoteName, strings.TrimPrefix(string(l.Name), prefix))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// PolicyLog returns the chain of policy records ending at p, newest
// first, as far as this repository holds it.
func PolicyLog(ctx context.Context, r *repo.Repo, p *governance.Policy) ([]*governance.Policy, error) {
	out := []*governance.Policy{p}
	for seen := map[objects.ID]bool{p.ID: true}; !p.Parent.IsZero() && len(out) < 10000; {
		if seen[p.Parent] {
			return nil, fmt.Errorf("%w: policy chain loops at %s", ErrBadGovernance, p.Parent.Short())
		}
		rec, err := readRecord(ctx, r, p.Parent)
		if errors.Is(err, objects.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		q, ok := rec.(*governance.Policy)
		if !ok {
			return nil, fmt.Errorf("%w: policy %s replaces a %s", ErrBadGovernance, p.ID.Short(), rec.Kind())
		}
		seen[q.ID] = true
		out = append(out, q)
		p = q
	}
	return out, nil
}

// SetPolicy signs p as the next policy of its branch on remoteName
// (replacing the server's current one), pushes it and keeps it as
// PolicyRef. The server takes it from the owner only.
func SetPolicy(ctx context.Context, r *repo.Repo, remoteName string, p *governance.Policy) (objects.ID, error) {
	return publishChain(ctx, r, remoteName, governance.PolicyRef(p.Branch), PolicyRef(remoteName, p.Branch), p)
}

// Names returns remoteName's name map as held here (empty when none).
func Names(ctx context.Context, r *repo.Repo, remoteName string) (*governance.Names, error) {
	id, err := r.Refs.Read(NamesRef(remoteName))
	if errors.Is(err, refs.ErrNotFound) {
		return &governance.Names{Labels: map[objects.PublicKey]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	rec, err := readRecord(ctx, r, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", NamesRef(remoteName), err)
	}
	n, ok := rec.(*governance.Names)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %s", ErrBadGovernance, NamesRef(remoteName), rec.Kind())
	}
	return n, nil
}

// Label returns a function naming keys by remoteName's name map: the
// label, else the key; withKey adds the key after the label.
func Label(ctx context.Context, r *repo.Repo, remoteName string, withKey bool) func(objects.PublicKey) string {
	n, err := Names(ctx, r, remoteName)
	return func(k objects.PublicKey) string {
		if err != nil || n.Labels[k] == "" {
			return k.String()
		}
		if withKey {
			return n.Labels[k] + " (" + k.String() + ")"
		}
		return n.Labels[k]
	}
}

// SetNames signs the next name map of remoteName: the server's current
// one with set applied (an empty label removes the key), pushes it and
// keeps it as NamesRef.
func SetNames(ctx context.Context, r *repo.Repo, remoteName string, set map[objects.PublicKey]string) (objects.ID, error) {
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return objects.ZeroID, err
	}
	labels := map[objects.PublicKey]string{}
	old, err := serverRef(ctx, c, governance.NamesRef)
	if err != nil {
		return objects.ZeroID, err
	}
	if !old.IsZero() {
		if err := fetchRecord(ctx, r, c, old); err != nil {
			return objects.ZeroID, err
		}
		rec, err := readRecord(ctx, r, old)
		if err != nil {
			return objects.ZeroID, err
		}
		if n, ok := rec.(*governance.Names); ok {
			labels = n.Labels
		}
	}
	for k, v := range set {
		if v == "" {
			delete(labels, k)
		} else {
			labels[k] = v
		}
	}
	return publishChain(ctx, r, remoteName, governance.NamesRef, NamesRef(remoteName), &governance.Names{Labels: labels})
}

func serverRef(ctx context.Context, c *remote.Client, name string) (objects.ID, error) {
	list, err := c.Refs(ctx)
	if errors.Is(err, remote.ErrNotFound) {
		return objects.ZeroID, nil
	}
	if err != nil {
		return objects.ZeroID, err
	}
	for _, ref := range list.Refs {
		if ref.Name == name {
			return ref.ID, nil
		}
	}
	return objects.ZeroID, nil
}

// fetchRecord downloads one record the server holds (and the empty tree).
func fetchRecord(ctx context.Context, r *repo.Repo, c *remote.Client, id objects.ID) error {
	if ok, _ := r.Objects.Has(ctx, id); ok {
		return nil
	}
	plan, err := c.Plan(ctx, remote.PlanRequest{Want: []objects.ID{id}})
	if err != nil {
		return err
	}
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	_, err = c.FetchObjects(ctx, disk, plan)
	return err
}

// publishChain signs rec as the successor of the server's value of
// serverName, pushes it and keeps it as local.
func publishChain(ctx context.Context, r *repo.Repo, remoteName, serverName string, local refs.Name, rec governance.Record) (objects.ID, error) {
	if r.Key == nil {
		return objects.ZeroID, fmt.Errorf("sign %s: %w", rec.Kind(), repo.ErrNoKey)
	}
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return objects.ZeroID, err
	}
	old, err := serverRef(ctx, c, serverName)
	if err != nil {
		return objects.ZeroID, fmt.Errorf("%s: %w", rec.Kind(), err)
	}
	h := recordHead(rec)
	h.Parent, h.Time = old, r.Now().Unix()
	id, err := storeRecord(ctx, r, rec)
	if err != nil {
		return objects.ZeroID, err
	}
	tree, _ := governance.EmptyTree()
	disk, err := r.Disk()
	if err != nil {
		return objects.ZeroID, err
	}
	if _, err := c.SendMissing(ctx, disk, []objects.ID{id, tree}); err != nil {
		return objects.ZeroID, fmt.Errorf("%s: %w", rec.Kind(), err)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: serverName, Old: old, New: id}}); err != nil {
		return objects.ZeroID, fmt.Errorf("%s: %w", rec.Kind(), err)
	}
	if !old.IsZero() {
		_ = fetchRecord(ctx, r, c, old) // the log shows the one replaced
	}
	return id, r.Refs.Transaction([]refs.Update{{Name: local, New: id, Force: true}}, r.Entry(rec.Kind()+" signed"))
}

func recordHead(rec governance.Record) *governance.Head {
	switch x := rec.(type) {
	case *governance.Policy:
		return &x.Head
	case *governance.Names:
		return &x.Head
	case *governance.Review:
		return &x.Head
	case *governance.Attestation:
		return &x.Head
	}
	panic("unknown record")
}

// PushGovernance sends the reviews and attestations held here that the
// server of c (whose refs are onServer) lacks (a push sends them before
// it moves a branch whose policy may need them).
func PushGovernance(ctx context.Context, r *repo.Repo, c *remote.Client, onServer *remote.RefList) error {
	have := map[string]bool{}
	if onServer != nil {
		for _, ref := range onServer.Refs {
			have[ref.Name] = true
		}
	}
	var ups []remote.RefUpdate
	ids := []objects.ID{}
	for _, prefix := range []string{governance.ReviewsPrefix, governance.AttestationsPrefix} {
		list, err := r.Refs.List(prefix)
		if err != nil {
			return err
		}
		for _, l := range list {
			if !have[string(l.Name)] {
				ups = append(ups, remote.RefUpdate{Name: string(l.Name), New: l.ID})
				ids = append(ids, l.ID)
			}
		}
	}
	if len(ups) == 0 {
		return nil
	}
	tree, _ := governance.EmptyTree()
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	if _, err := c.SendMissing(ctx, disk, append(ids, tree)); err != nil {
		return fmt.Errorf("push reviews and attestations: %w", err)
	}
	for len(ups) > 0 {
		n := min(len(ups), remote.MaxUpdates)
		if _, err := c.UpdateRefs(ctx, ups[:n]); err != nil {
			return fmt.Errorf("push reviews and attestations: %w", err)
		}
		ups = ups[n:]
	}
	return nil
}

// PushRecords sends the reviews and attestations held here that
// remoteName's server lacks.
func PushRecords(ctx context.Context, r *repo.Repo, remoteName string) error {
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return err
	}
	list, err := c.Refs(ctx)
	if err != nil && !errors.Is(err, remote.ErrNotFound) {
		return err
	}
	return PushGovernance(ctx, r, c, list)
}

// GovOwner caches, for one fetch, the owner a server names (the zero
// value knows none yet).
type GovOwner struct {
	owner string
	done  bool
}

// FetchedGovernanceRef decides where fetch keeps the server's governance
// ref (whose objects it has fetched): reviews and attestations under
// their own names, after checking them; a policy and the name map under
// remoteName, after checking that the owner signed them. ok is false for
// a ref not to keep.
func FetchedGovernanceRef(ctx context.Context, r *repo.Repo, c *remote.Client, remoteName string, ref remote.Ref, own *GovOwner) (refs.Name, bool, error) {
	rec, err := readRecord(ctx, r, ref.ID)
	if err != nil {
		return "", false, fmt.Errorf("%w: %s of %s: %w", ErrBadGovernance, ref.Name, remoteName, err)
	}
	if _, commit, id, ok := governance.ParseRecordRef(ref.Name); ok {
		var about objects.ID
		switch x := rec.(type) {
		case *governance.Review:
			about = x.Commit
		case *governance.Attestation:
			about = x.Commit
		}
		if id != ref.ID || about != commit {
			return "", false, fmt.Errorf("%w: %s of %s holds %s %s about %s", ErrBadGovernance, ref.Name, remoteName, rec.Kind(), ref.ID.Short(), about.Short())
		}
		return refs.Name(ref.Name), true, nil
	}
	if !own.done {
		st, err := c.Settings(ctx)
		if err != nil {
			return "", false, fmt.Errorf("%s: who owns the repository: %w", ref.Name, err)
		}
		own.owner, own.done = st.Owner, true
	}
	signer := recordHead(rec).Signer.String()
	if signer != own.owner {
		return "", false, fmt.Errorf("%w: %s of %s is signed by %s, not by the repository's owner %s", ErrBadGovernance, ref.Name, remoteName, signer, orNobody(own.owner))
	}
	switch x := rec.(type) {
	case *governance.Policy:
		if ref.Name == governance.PolicyRef(x.Branch) {
			return PolicyRef(remoteName, x.Branch), true, nil
		}
	case *governance.Names:
		if ref.Name == governance.NamesRef {
			return NamesRef(remoteName), true, nil
		}
	}
	return "", false, fmt.Errorf("%w: %s of %s holds a %s", ErrBadGovernance, ref.Name, remoteName, rec.Kind())
}

func orNobody(s string) string {
	if s == "" {
		return "(none named)"
	}
	return s
}

// FetchNames brings remoteName's name map (checked as fetch checks it:
// signed by the owner the server names) and keeps it as NamesRef; it
// returns the map, empty when the server has none.
func FetchNames(ctx context.Context, r *repo.Repo, remoteName string) (*governance.Names, error) {
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return nil, err
	}
	id, err := serverRef(ctx, c, governance.NamesRef)
	if err != nil || id.IsZero() {
		return &governance.Names{Labels: map[objects.PublicKey]string{}}, err
	}
	if err := fetchRecord(ctx, r, c, id); err != nil {
		return nil, fmt.Errorf("names: %w", err)
	}
	name, _, err := FetchedGovernanceRef(ctx, r, c, remoteName, remote.Ref{Name: governance.NamesRef, ID: id}, &GovOwner{})
	if err != nil {
		return nil, err
	}
	if err := r.Refs.Transaction([]refs.Update{{Name: name, New: id, Force: true}}, r.Entry("fetch names")); err != nil {
		return nil, err
	}
	return Names(ctx, r, remoteName)
}

// lastOwn returns the record of key's last word on commit among records
// (zero: none), which a new record of key's replaces.
func lastOwn[R interface {
	governance.Record
	*governance.Review | *governance.Attestation
}](records []R, key objects.PublicKey, commit objects.ID) objects.ID {
	var own []R
	for _, rec := range records {
		if recordHead(rec).Signer == key {
			own = append(own, rec)
		}
	}
	about := func(rec R) objects.ID {
		switch x := any(rec).(type) {
		case *governance.Review:
			return x.Commit
		case *governance.Attestation:
			return x.Commit
		}
		return objects.ZeroID
	}
	var last objects.ID
	for _, heads := range governance.Latest(own, about, commit) {
		for _, h := range heads {
			if id := recordHead(h).ID; strings.Compare(id.String(), last.String()) > 0 {
				last = id
			}
		}
	}
	return last
}
