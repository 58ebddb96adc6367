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

// Latest returns, per signer (in key order), its last word on commit:
// its records about commit that no later record of its own replaces (a
// record's parent is the one it replaces), and of those the newest by
// time; records of one second are all returned, and callers count them
// only when they agree.
func Latest[R Record](records []R, about func(R) objects.ID, commit objects.ID) [][]R {
	bySigner := map[objects.PublicKey][]R{}
	replaced := map[objects.ID]objects.PublicKey{}
	for _, r := range records {
		if about(r) != commit {
			continue
		}
		h := r.head()
		if !h.Parent.IsZero() {
			replaced[h.Parent] = h.Signer
		}
	}
	seen := map[objects.ID]bool{}
	for _, r := range records {
		h := r.head()
		if about(r) != commit || seen[h.ID] {
			continue
		}
		seen[h.ID] = true
		if by, ok := replaced[h.ID]; ok && by == h.Signer {
			continue
		}
		cur := bySigner[h.Signer]
		switch {
		case len(cur) == 0 || h.Time > cur[0].head().Time:
			bySigner[h.Signer] = []R{r}
		case h.Time == cur[0].head().Time:
			bySigner[h.Signer] = append(cur, r)
		}
	}
	keys := make([]objects.PublicKey, 0, len(bySigner))
	for k := range bySigner {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b objects.PublicKey) int { return strings.Compare(a.String(), b.String()) })
	out := make([][]R, len(keys))
	for i, k := range keys {
		out[i] = bySigner[k]
	}
	return out
}

// Approvals returns the keys whose last word on the commit approves it,
// in key order, and notes on reviews that do not count.
func Approvals(ev Evidence) (approvers []objects.PublicKey, notes []string) {
	name := ev.name
	for _, rs := range Latest(ev.Reviews, func(r *Review) objects.ID { return r.Commit }, ev.Commit) {
		signer := rs[0].Signer
		verdict := rs[0].Verdict
		for _, r := range rs[1:] {
			if r.Verdict != verdict {
				verdict = "conflicting"
			}
		}
		switch {
		case verdict == Reject:
			notes = append(notes, "rejected by "+name(signer))
		case verdict == "conflicting":
			notes = append(notes, "reviews by "+name(signer)+" of the same second disagree")
		case verdict != Approve:
		case signer == ev.Author:
			notes = append(notes, "approval by the commit's author "+name(signer)+" does not count")
		case ev.MayReview != nil && !ev.MayReview(signer):
			notes = append(notes, "approval by "+name(signer)+", who is not a collaborator, does not count")
		default:
			approvers = append(approvers, signer)
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
	if len(p.Voters) > 0 {
		if m, ok := Tally(p, ev); !ok {
			out = append(out, m)
		}
	}
	if len(p.Attest) > 0 {
		latest := Latest(ev.Attestations, func(a *Attestation) objects.ID { return a.Commit }, ev.Commit)
		for _, c := range p.Attest {
			var have []string
			met := false
			for _, as := range latest {
				signer := as[0].Signer
				listed := slices.Contains(p.Validators, signer)
				holds, any := true, false
				for _, a := range as {
					i := slices.IndexFunc(a.Metrics, func(m Metric) bool { return m.Name == c.Metric })
					if i < 0 {
						continue
					}
					any = true
					switch {
					case !listed:
						have = append(have, fmt.Sprintf("%s=%s by %s, not a listed validator", c.Metric, a.Metrics[i].Text, ev.name(signer)))
					case !c.Holds(a.Metrics[i].Value):
						holds = false
						have = append(have, fmt.Sprintf("%s=%s by %s", c.Metric, a.Metrics[i].Text, ev.name(signer)))
					}
				}
				if any && listed && holds {
					met = true
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

// Tally counts the votes of p's voters on the commit of ev: each voter's
// last word (Latest), once; approve is for, reject against, comment or
// silence no vote. It reports whether Votes voters are for and, when
// not, what is missing.
func Tally(p *Policy, ev Evidence) (Missing, bool) {
	var yes, no, split []string
	voted := map[objects.PublicKey]bool{}
	for _, rs := range Latest(ev.Reviews, func(r *Review) objects.ID { return r.Commit }, ev.Commit) {
		signer := rs[0].Signer
		if !slices.Contains(p.Voters, signer) {
			continue
		}
		verdict := rs[0].Verdict
		for _, r := range rs[1:] {
			if r.Verdict != verdict {
				verdict = ""
			}
		}
		voted[signer] = true
		switch verdict {
		case Approve:
			yes = append(yes, ev.name(signer))
		case Reject:
			no = append(no, ev.name(signer))
		case "":
			split = append(split, ev.name(signer))
		default:
			voted[signer] = false
		}
	}
	if len(yes) >= p.Votes {
		return Missing{}, true
	}
	have := fmt.Sprintf("%d for", len(yes))
	if len(yes) > 0 {
		have += " (" + strings.Join(yes, ", ") + ")"
	}
	have += fmt.Sprintf(", %d against", len(no))
	if len(no) > 0 {
		have += " (" + strings.Join(no, ", ") + ")"
	}
	if len(split) > 0 {
		have += ", reviews of one second disagree: " + strings.Join(split, ", ")
	}
	var silent []string
	for _, k := range p.Voters {
		if !voted[k] {
			silent = append(silent, ev.name(k))
		}
	}
	if len(silent) > 0 {
		have += fmt.Sprintf(", %d not voted (%s)", len(silent), strings.Join(silent, ", "))
	}
	return Missing{Condition: fmt.Sprintf("votes>=%d of %d", p.Votes, len(p.Voters)), Have: have}, false
}
