package governance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// Ref namespaces (doc/design.md §19, doc/protocol.md §6.9). A server holds
// a repository's policies under PolicyPrefix+BRANCH and its name map under
// NamesRef; a clone keeps those of remote R under refs/meta/R/policy/BRANCH
// and refs/meta/R/names. Reviews and attestations keep one name
// everywhere: they are named by what they are about and their own id.
const (
	ReviewsPrefix      = "refs/reviews/"
	AttestationsPrefix = "refs/attestations/"
	PolicyPrefix       = "refs/meta/policy/"
	NamesRef           = "refs/meta/names"
)

// ReviewRef returns the ref naming review id of commit.
func ReviewRef(commit, id objects.ID) string {
	return ReviewsPrefix + commit.String() + "/" + id.String()
}

// AttestationRef returns the ref naming attestation id of commit.
func AttestationRef(commit, id objects.ID) string {
	return AttestationsPrefix + commit.String() + "/" + id.String()
}

// PolicyRef returns the server's ref of branch's policy.
func PolicyRef(branch string) string { return PolicyPrefix + branch }

// ParseRecordRef splits a review or attestation ref into its prefix, the
// commit it is about and the record it names; ok is false for any other
// name.
func ParseRecordRef(name string) (prefix string, commit, id objects.ID, ok bool) {
	for _, p := range []string{ReviewsPrefix, AttestationsPrefix} {
		rest, found := strings.CutPrefix(name, p)
		if !found {
			continue
		}
		c, r, found := strings.Cut(rest, "/")
		if !found {
			return p, commit, id, false
		}
		var err1, err2 error
		commit, err1 = objects.ParseID(c)
		id, err2 = objects.ParseID(r)
		ok = err1 == nil && err2 == nil && commit.String() == c && id.String() == r
		return p, commit, id, ok
	}
	return "", commit, id, false
}

// Missing is one condition of a policy a commit does not meet: a problem
// detail (doc/schemas/problem.schema.json, "unmet").
type Missing struct {
	Condition string `json:"condition"` // "approvals>=2", "attestation accuracy>=0.9", "proof"
	Have      string `json:"have"`      // what exists
}

func (m Missing) String() string { return m.Condition + " (have: " + m.Have + ")" }

// Evidence is what a commit has towards a policy: the reviews and
// attestations of it (others are ignored), whether it has a proof, and
// which keys may review (the owner and collaborators; nil: anyone).
type Evidence struct {
	Commit       objects.ID
	Author       objects.PublicKey // the commit's author, whose own approval does not count
	Reviews      []*Review
	Attestations []*Attestation
	HasProof     bool
	MayReview    func(objects.PublicKey) bool
	Label        func(objects.PublicKey) string // how to name a key in messages; nil: base58
}

// Latest returns, per signer, the newest of its records about commit
// (later time, then larger id): a signer's last word counts, once.
func Latest[R Record](records []R, about func(R) objects.ID, commit objects.ID) []R {
	best := map[objects.PublicKey]R{}
	for _, r := range records {
		if about(r) != commit {
			continue
		}
		h := r.head()
		b, ok := best[h.Signer]
		if !ok || h.Time > b.head().Time || h.Time == b.head().Time && strings.Compare(h.ID.String(), b.head().ID.String()) > 0 {
			best[h.Signer] = r
		}
	}
	out := make([]R, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b R) int { return strings.Compare(a.head().Signer.String(), b.head().Signer.String()) })
	return out
}

// Approvals returns the keys whose last review of the commit approves
// it, in key order, and notes on reviews that do not count.
func Approvals(ev Evidence) (approvers []objects.PublicKey, notes []string) {
	name := ev.name
	for _, r := range Latest(ev.Reviews, func(r *Review) objects.ID { return r.Commit }, ev.Commit) {
		switch {
		case r.Verdict != Approve:
			if r.Verdict == Reject {
				notes = append(notes, "rejected by "+name(r.Signer))
			}
		case r.Signer == ev.Author:
			notes = append(notes, "approval by the commit's author "+name(r.Signer)+" does not count")
		case ev.MayReview != nil && !ev.MayReview(r.Signer):
			notes = append(notes, "approval by "+name(r.Signer)+", who is not a collaborator, does not count")
		default:
			approvers = append(approvers, r.Signer)
		}
	}
	return approvers, notes
}

func (ev Evidence) name(k objects.PublicKey) string {
	if ev.Label != nil {
		return ev.Label(k)
	}
	return k.String()
}

// Check returns the conditions of p the commit of ev does not meet, in
// the policy's order (approvals, attestations, proof); none when it
// satisfies p. An Off policy asks nothing.
func Check(p *Policy, ev Evidence) []Missing {
	if p == nil || p.Off {
		return nil
	}
	var out []Missing
	if p.Approvals > 0 {
		approvers, notes := Approvals(ev)
		if len(approvers) < p.Approvals {
			have := fmt.Sprintf("%d approval(s)", len(approvers))
			if len(approvers) > 0 {
				names := make([]string, len(approvers))
				for i, k := range approvers {
					names[i] = ev.name(k)
				}
				have += " by " + strings.Join(names, ", ")
			}
			if len(notes) > 0 {
				have += "; " + strings.Join(notes, "; ")
			}
			out = append(out, Missing{Condition: fmt.Sprintf("approvals>=%d", p.Approvals), Have: have})
		}
	}
	if len(p.Attest) > 0 {
		latest := Latest(ev.Attestations, func(a *Attestation) objects.ID { return a.Commit }, ev.Commit)
		for _, c := range p.Attest {
			var have []string
			met := false
			for _, a := range latest {
				i := slices.IndexFunc(a.Metrics, func(m Metric) bool { return m.Name == c.Metric })
				listed := slices.Contains(p.Validators, a.Signer)
				switch {
				case i < 0:
					continue
				case !listed:
					have = append(have, fmt.Sprintf("%s=%s by %s, not a listed validator", c.Metric, a.Metrics[i].Text, ev.name(a.Signer)))
				case c.Holds(a.Metrics[i].Value):
					met = true
				default:
					have = append(have, fmt.Sprintf("%s=%s by %s", c.Metric, a.Metrics[i].Text, ev.name(a.Signer)))
				}
			}
			if !met {
				h := "no attestation of " + c.Metric + " by a listed validator"
				if len(have) > 0 {
					h = strings.Join(have, "; ")
				}
				out = append(out, Missing{Condition: "attestation " + c.String(), Have: h})
			}
		}
	}
	if p.RequireProofs && !ev.HasProof {
		out = append(out, Missing{Condition: "proof", Have: "no proof of the commit"})
	}
	return out
}

// MayPush reports whether key may move p's branch: the owner, or one of
// p's maintainers.
func MayPush(p *Policy, owner, key objects.PublicKey) bool {
	return key == owner || slices.Contains(p.Maintainers, key)
}
