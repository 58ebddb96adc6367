package governing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

// Contribution records (doc/design.md §19, "Contribution records"): what
// each key gave to a main line, read from the merge records fed merge
// writes (merge.sides, merge.weights, merge.report) and the proofs,
// reviews and attestations held here. Enough to compute rewards and
// penalties outside fed.

// Side is one side of a merge round.
type Side struct {
	Commit      objects.ID        `json:"commit"`
	Contributor objects.PublicKey `json:"-"`
	Key         string            `json:"contributor"`
	Weight      float64           `json:"weight"`   // normalised, as recorded
	Selected    bool              `json:"selected"` // false: a selection (krum, bulyan) dropped it
	Discarded   uint64            `json:"discarded"`
	Reason      string            `json:"reason,omitempty"`
	Kept        float64           `json:"kept"`      // 0 if not selected, else 1 − discarded/elements
	Effective   float64           `json:"effective"` // Weight × Kept
	Proof       bool              `json:"proof"`     // a proof of the side's commit is held here
}

// Round is one merge commit of the main line.
type Round struct {
	Commit   objects.ID `json:"commit"`
	Strategy string     `json:"strategy"`
	Elements uint64     `json:"elements"`
	Sides    []Side     `json:"sides"`
}

// Contributor sums one key's part over the rounds.
type Contributor struct {
	Key          string   `json:"key"`
	Name         string   `json:"name,omitempty"`
	Rounds       int      `json:"rounds"`    // rounds with at least one side of the key's
	Updates      int      `json:"updates"`   // sides
	Merged       int      `json:"merged"`    // sides with Kept > 0
	Discarded    int      `json:"discarded"` // sides a robust strategy dropped in part or whole
	Weight       float64  `json:"weight"`    // Σ normalised weights
	Effective    float64  `json:"effective"` // Σ effective weights
	Share        float64  `json:"share"`     // Effective / Σ Effective of all contributors
	Proofs       int      `json:"proofs"`    // sides with a proof held here
	Commits      int      `json:"commits"`   // other commits of the main line the key signed
	Reviews      int      `json:"reviews"`   // reviews the key signed of commits in the range
	Attestations int      `json:"attestations"`
	Reasons      []string `json:"reasons,omitempty"` // why sides were discarded, per round
}

// ContributorsReport is the result of Contributors.
type ContributorsReport struct {
	Range        string        `json:"range"`
	Rounds       []Round       `json:"rounds"`
	Contributors []Contributor `json:"contributors"` // by share, then weight (both descending), then key
}

// Contributors reports what each key gave to the main line of rng
// ("REV", or "A..B": the first-parent line of B back to, not including,
// A's).
func Contributors(ctx context.Context, r *repo.Repo, rng string) (*ContributorsReport, error) {
	if rng == "" {
		rng = "HEAD"
	}
	to, stop, err := mainLine(ctx, r, rng)
	if err != nil {
		return nil, err
	}
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	rep := &ContributorsReport{Range: rng, Rounds: []Round{}, Contributors: []Contributor{}}
	byKey := map[objects.PublicKey]*Contributor{}
	get := func(k objects.PublicKey) *Contributor {
		c := byKey[k]
		if c == nil {
			c = &Contributor{Key: k.String()}
			byKey[k] = c
		}
		return c
	}
	inRange := map[objects.ID]bool{}
	var line []objects.ID
	for id := to; !id.IsZero() && !stop[id] && len(line) < 1_000_000; {
		c, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			return nil, err
		}
		line = append(line, id)
		inRange[id] = true
		round, err := readRound(ctx, r, id, c)
		if err != nil {
			return nil, err
		}
		if round != nil {
			rep.Rounds = append(rep.Rounds, *round)
			seen := map[objects.PublicKey]bool{}
			for _, s := range round.Sides {
				inRange[s.Commit] = true
				get(s.Contributor).addSide(round, s, !seen[s.Contributor])
				seen[s.Contributor] = true
			}
		} else {
			get(c.Author).Commits++
		}
		if len(c.Parents) == 0 || shallow[id] {
			break
		}
		id = c.Parents[0]
	}
	// rounds oldest first
	slices.Reverse(rep.Rounds)
	for commit := range inRange {
		reviews, attestations, err := Records(ctx, r, commit)
		if err != nil {
			return nil, err
		}
		for _, rv := range reviews {
			get(rv.Signer).Reviews++
		}
		for _, a := range attestations {
			get(a.Signer).Attestations++
		}
	}
	total := 0.0
	for _, c := range byKey {
		total += c.Effective
	}
	for _, c := range byKey {
		if total > 0 {
			c.Share = c.Effective / total
		}
		rep.Contributors = append(rep.Contributors, *c)
	}
	slices.SortFunc(rep.Contributors, func(a, b Contributor) int {
		for _, x := range [][2]float64{{a.Share, b.Share}, {a.Weight, b.Weight}} {
			if x[0] != x[1] {
				if x[0] > x[1] {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(a.Key, b.Key)
	})
	return rep, nil
}

// mainLine resolves rng ("REV" or "A..B") to the tip of its main line
// and the commits outside it: A's first-parent line.
func mainLine(ctx context.Context, r *repo.Repo, rng string) (objects.ID, map[objects.ID]bool, error) {
	var from, to objects.ID
	var err error
	if a, b, ok := strings.Cut(rng, ".."); ok {
		if b == "" {
			b = "HEAD"
		}
		if from, err = r.Resolve(ctx, a); err != nil {
			return objects.ZeroID, nil, err
		}
		if to, err = r.Resolve(ctx, b); err != nil {
			return objects.ZeroID, nil, err
		}
	} else if to, err = r.Resolve(ctx, rng); err != nil {
		return objects.ZeroID, nil, err
	}
	stop := map[objects.ID]bool{}
	// everything on A's first-parent line is outside the range
	for id := from; !id.IsZero() && !stop[id]; {
		stop[id] = true
		c, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			return objects.ZeroID, nil, err
		}
		if len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	return to, stop, nil
}

// addSide counts side s of round rd for ct; first is whether it is ct's
// first side in rd.
func (ct *Contributor) addSide(rd *Round, s Side, first bool) {
	if first {
		ct.Rounds++
	}
	ct.Updates++
	if s.Kept > 0 {
		ct.Merged++
	}
	if !s.Selected || s.Discarded > 0 {
		ct.Discarded++
		why := s.Reason
		if !s.Selected {
			why = "not selected by " + rd.Strategy
		}
		ct.Reasons = append(ct.Reasons, fmt.Sprintf("%s: %s", rd.Commit.Short(), why))
	}
	ct.Weight += s.Weight
	ct.Effective += s.Effective
	if s.Proof {
		ct.Proofs++
	}
}

// MergeRound reads the merge record of commit id (design §19): its
// strategy and each side with its author, normalised weight, what a
// robust strategy discarded and whether a proof is held here; nil when
// id is not a merge fed merge recorded. For the web pages of fed serve.
func MergeRound(ctx context.Context, r *repo.Repo, id objects.ID) (*Round, error) {
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return nil, err
	}
	return readRound(ctx, r, id, c)
}

// readRound reads the merge record of commit id: nil when it is not a merge
// fed merge recorded.
func readRound(ctx context.Context, r *repo.Repo, id objects.ID, c *objects.Commit) (*Round, error) {
	strategy, ok := c.Value("merge.strategy")
	sidesText, ok2 := c.Value("merge.sides")
	if !ok || !ok2 || len(c.Parents) < 2 {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: merge record of %s: %s", ErrBadGovernance, id.Short(), fmt.Sprintf(format, args...))
	}
	round := &Round{Commit: id, Strategy: strategy}
	var sides []objects.ID
	for _, s := range strings.Split(sidesText, ",") {
		sid, err := objects.ParseID(s)
		if err != nil {
			return nil, bad("merge.sides: %v", err)
		}
		sides = append(sides, sid)
	}
	var report struct {
		Sides []struct {
			Weight    float64 `json:"weight"`
			Selected  bool    `json:"selected"`
			Discarded uint64  `json:"discarded"`
			Reason    string  `json:"reason"`
		} `json:"sides"`
		Elements uint64 `json:"elements"`
	}
	if text, ok := c.Value("merge.report"); ok {
		if err := json.Unmarshal([]byte(text), &report); err != nil {
			return nil, bad("merge.report: %v", err)
		}
		if len(report.Sides) != len(sides) {
			return nil, bad("merge.report has %d sides, merge.sides %d", len(report.Sides), len(sides))
		}
	} else {
		// no report: weights from merge.weights (per parent), normalised
		// over the sides
		weights := map[objects.ID]float64{}
		if text, ok := c.Value("merge.weights"); ok {
			ws := strings.Split(text, ",")
			if len(ws) != len(c.Parents) {
				return nil, bad("merge.weights has %d weights for %d parents", len(ws), len(c.Parents))
			}
			for i, w := range ws {
				f, err := strconv.ParseFloat(w, 64)
				if err != nil {
					return nil, bad("merge.weights: %v", err)
				}
				weights[c.Parents[i]] = f
			}
		}
		sum := 0.0
		for _, s := range sides {
			sum += weights[s]
		}
		for _, s := range sides {
			w := 1 / float64(len(sides))
			if sum > 0 {
				w = weights[s] / sum
			}
			report.Sides = append(report.Sides, struct {
				Weight    float64 `json:"weight"`
				Selected  bool    `json:"selected"`
				Discarded uint64  `json:"discarded"`
				Reason    string  `json:"reason"`
			}{Weight: w, Selected: true})
		}
	}
	round.Elements = report.Elements
	for i, sid := range sides {
		sc, err := objects.ReadCommit(ctx, r.Objects, sid)
		if err != nil {
			return nil, fmt.Errorf("merge %s: side %s: %w", id.Short(), sid.Short(), err)
		}
		sr := report.Sides[i]
		s := Side{Commit: sid, Contributor: sc.Author, Key: sc.Author.String(), Weight: sr.Weight, Selected: sr.Selected, Discarded: sr.Discarded, Reason: sr.Reason}
		switch {
		case !s.Selected:
		case report.Elements > 0:
			s.Kept = 1 - float64(min(s.Discarded, report.Elements))/float64(report.Elements)
		default:
			s.Kept = 1
		}
		s.Effective = s.Weight * s.Kept
		if _, err := r.Refs.Read(repo.ProofRef(sid)); err == nil {
			s.Proof = true
		} else if !errors.Is(err, refs.ErrNotFound) {
			return nil, err
		}
		round.Sides = append(round.Sides, s)
	}
	return round, nil
}

// LabelContributors sets each contributor's Name from remoteName's name
// map.
func LabelContributors(ctx context.Context, r *repo.Repo, rep *ContributorsReport, remoteName string) {
	n, err := Names(ctx, r, remoteName)
	if err != nil {
		return
	}
	for i := range rep.Contributors {
		if k, err := objects.ParsePublicKey(rep.Contributors[i].Key); err == nil {
			rep.Contributors[i].Name = n.Labels[k]
		}
	}
}
