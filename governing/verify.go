package governing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// ErrGovernance reports a governance check that failed (VerifyGovernance).
var ErrGovernance = errors.New("governing: governance check failed")

// GovernanceCheck is the verdict on one logged update of a branch under a
// policy (or on a push log entry, or on the end state).
type GovernanceCheck struct {
	Time     time.Time  `json:"time"`
	Pusher   string     `json:"pusher,omitempty"`
	Ref      string     `json:"ref,omitempty"`
	New      objects.ID `json:"new"`
	Policy   objects.ID `json:"policy"` // the policy that held when it arrived
	OK       bool       `json:"ok"`
	Problems []string   `json:"problems,omitempty"`
}

// GovernanceReport is the result of VerifyGovernance.
type GovernanceReport struct {
	Remote  string            `json:"remote"`
	Pushes  int               `json:"pushes"`  // push log entries replayed
	Records int               `json:"records"` // reviews and attestations the log set
	Checks  []GovernanceCheck `json:"checks"`
}

// VerifyGovernance replays remoteName's push log (doc/protocol.md §6.8):
// every entry's signature; every policy and name map the log set signed by
// the owner; every update of a branch under a policy against the policy
// that held before that push, with the reviews, attestations and proofs
// the server held then or the same push set, and its pusher the owner or a
// maintainer; and the server's branches and policies now the values the
// log leaves. The records must be held here (fetch brings them). The
// owner and collaborators are the server's now: changes of them are not
// logged.
func VerifyGovernance(ctx context.Context, r *repo.Repo, remoteName string) (*GovernanceReport, error) {
	c, err := r.Client(remoteName, remote.Options{})
	if err != nil {
		return nil, err
	}
	st, err := c.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify governance: %w", err)
	}
	log, err := c.PushLog(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify governance: %w", err)
	}
	list, err := c.Refs(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify governance: %w", err)
	}
	owner, _ := objects.ParsePublicKey(st.Owner)
	collab := map[string]bool{}
	for _, k := range st.Collaborators {
		collab[k] = true
	}
	rep := &GovernanceReport{Remote: remoteName, Pushes: len(log.Entries), Checks: []GovernanceCheck{}}
	state := map[string]objects.ID{}
	for _, e := range log.Entries {
		if err := c.VerifyPushLogEntry(e); err != nil {
			rep.Checks = append(rep.Checks, GovernanceCheck{Time: e.Time, Pusher: e.Pusher, Problems: []string{err.Error()}})
			continue
		}
		set := map[string]objects.ID{}
		for _, u := range e.Updates {
			set[u.Name] = u.New
			if remote.IsGovernanceRef(u.Name) && (u.Name == governance.NamesRef || strings.HasPrefix(u.Name, governance.PolicyPrefix)) && !u.New.IsZero() {
				ck := GovernanceCheck{Time: e.Time, Pusher: e.Pusher, Ref: u.Name, New: u.New, OK: true}
				rec, err := readRecord(ctx, r, u.New)
				switch {
				case err != nil:
					ck.Problems = append(ck.Problems, fmt.Sprintf("%s %s: %v (fetch brings it)", u.Name, u.New.Short(), err))
				case recordHead(rec).Signer != owner:
					ck.Problems = append(ck.Problems, fmt.Sprintf("%s %s is signed by %s, not by the owner %s", u.Name, u.New.Short(), recordHead(rec).Signer, owner))
				}
				ck.OK = len(ck.Problems) == 0
				rep.Checks = append(rep.Checks, ck)
			}
			if _, _, _, ok := governance.ParseRecordRef(u.Name); ok && !u.New.IsZero() {
				rep.Records++
			}
		}
		for _, u := range e.Updates {
			branch, ok := strings.CutPrefix(u.Name, refs.HeadsPrefix)
			if !ok || u.New.IsZero() {
				continue
			}
			pid := state[governance.PolicyRef(branch)]
			if pid.IsZero() {
				continue
			}
			ck := GovernanceCheck{Time: e.Time, Pusher: e.Pusher, Ref: u.Name, New: u.New, Policy: pid}
			ck.Problems = checkArrival(ctx, r, pid, u, e, state, set, owner, collab)
			if ck.Problems == nil {
				// an unset policy checks nothing and is not reported
				if p, err := readRecord(ctx, r, pid); err == nil && p.(*governance.Policy).Off {
					continue
				}
			}
			ck.OK = len(ck.Problems) == 0
			rep.Checks = append(rep.Checks, ck)
		}
		for name, id := range set {
			if id.IsZero() {
				delete(state, name)
			} else {
				state[name] = id
			}
		}
	}
	// the server's branches and policies now are what the log left
	now := map[string]objects.ID{}
	for _, ref := range list.Refs {
		now[ref.Name] = ref.ID
	}
	var names []string
	for name := range now {
		names = append(names, name)
	}
	for name := range state {
		if _, ok := now[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasPrefix(name, refs.HeadsPrefix) && !strings.HasPrefix(name, governance.PolicyPrefix) {
			continue
		}
		if now[name] != state[name] {
			rep.Checks = append(rep.Checks, GovernanceCheck{Ref: name, New: now[name], Problems: []string{fmt.Sprintf("%s is %s on the server, but the push log leaves it at %s: it moved outside any logged push", name, orNone(now[name]), orNone(state[name]))}})
		}
	}
	for _, ck := range rep.Checks {
		if !ck.OK {
			return rep, fmt.Errorf("%w: %s", ErrGovernance, strings.Join(ck.Problems, "; "))
		}
	}
	return rep, nil
}

func orNone(id objects.ID) string {
	if id.IsZero() {
		return "nothing"
	}
	return id.Short()
}

// checkArrival checks the update u of entry e against policy pid, with
// the records state (the refs before e) and set (e's updates) name.
func checkArrival(ctx context.Context, r *repo.Repo, pid objects.ID, u remote.RefUpdate, e remote.PushLogEntry, state, set map[string]objects.ID, owner objects.PublicKey, collab map[string]bool) []string {
	rec, err := readRecord(ctx, r, pid)
	if err != nil {
		return []string{fmt.Sprintf("policy %s: %v (fetch brings it)", pid.Short(), err)}
	}
	p, ok := rec.(*governance.Policy)
	if !ok {
		return []string{fmt.Sprintf("policy ref holds a %s", rec.Kind())}
	}
	if p.Off {
		return nil
	}
	var problems []string
	pusher, _ := objects.ParsePublicKey(e.Pusher)
	if !governance.MayPush(p, owner, pusher) {
		problems = append(problems, fmt.Sprintf("pushed by %s, who is neither the owner nor a maintainer", e.Pusher))
	}
	cm, err := objects.ReadCommit(ctx, r.Objects, u.New)
	if err != nil {
		return append(problems, fmt.Sprintf("commit %s: %v (fetch brings it)", u.New.Short(), err))
	}
	ev := governance.Evidence{Commit: u.New, Author: cm.Author, MayReview: func(k objects.PublicKey) bool { return k == owner || collab[k.String()] }}
	seen := map[objects.ID]bool{}
	for _, m := range []map[string]objects.ID{state, set} {
		var names []string
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			_, commit, id, ok := governance.ParseRecordRef(name)
			if !ok || commit != u.New || m[name].IsZero() || seen[id] {
				continue
			}
			seen[id] = true
			rec, err := readRecord(ctx, r, id)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v (fetch brings it)", name, err))
				continue
			}
			switch x := rec.(type) {
			case *governance.Review:
				ev.Reviews = append(ev.Reviews, x)
			case *governance.Attestation:
				ev.Attestations = append(ev.Attestations, x)
			}
		}
	}
	proof := remote.ProofsPrefix + u.New.String()
	ev.HasProof = !state[proof].IsZero() || !set[proof].IsZero()
	for _, m := range governance.Check(p, ev) {
		problems = append(problems, m.String())
	}
	return problems
}
