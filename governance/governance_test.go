package governance

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

func key(t testing.TB, seed byte) *objects.Keypair {
	t.Helper()
	return objects.KeypairFromSeed(bytes.Repeat([]byte{seed}, 32))
}

var commitX = objects.Sum([]byte("commit x"))
var commitY = objects.Sum([]byte("commit y"))

// sign signs r and returns its commit's encoding.
func sign(t testing.TB, r Record, k *objects.Keypair) []byte {
	t.Helper()
	c, err := Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := objects.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t testing.TB, b []byte) (Record, error) {
	t.Helper()
	o, err := objects.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(objects.Sum(b), o.(*objects.Commit))
}

func samples(t testing.TB) []Record {
	owner, val := key(t, 1), key(t, 3)
	return []Record{
		&Review{Head: Head{Time: 100, Message: "looks right\n"}, Commit: commitX, Verdict: Approve},
		&Attestation{Head: Head{Time: 101, TZ: 60}, Commit: commitX, Metrics: []Metric{{Name: "accuracy", Value: 0.93, Text: "0.93"}, {Name: "loss", Value: 0.2, Text: "0.2"}},
			Dataset: strings.Repeat("ab", 32), Command: "python3 eval.py", Output: `{"accuracy":0.93}`},
		&Policy{Head: Head{Time: 102, Parent: commitY, Message: "two reviews\n"}, Branch: "main", Approvals: 2,
			Attest:     []Condition{{Metric: "accuracy", Op: ">=", Value: 0.9, Text: "0.9"}, {Metric: "loss", Op: "<=", Value: 0.5, Text: "0.5"}},
			Validators: SortKeys([]objects.PublicKey{val.Public(), owner.Public()}), Maintainers: []objects.PublicKey{owner.Public()}, RequireProofs: true,
			Voters: SortKeys([]objects.PublicKey{val.Public(), owner.Public()}), Votes: 2},
		&Policy{Head: Head{Time: 103}, Branch: "release/v1", Off: true},
		&Names{Head: Head{Time: 104}, Labels: map[objects.PublicKey]string{owner.Public(): "St. Mary's clinic", val.Public(): "Validator ünï"}},
	}
}

func TestRoundTrip(t *testing.T) {
	k := key(t, 9)
	for _, r := range samples(t) {
		b := sign(t, r, k)
		got, err := parse(t, b)
		if err != nil {
			t.Fatalf("%s: %v", r.Kind(), err)
		}
		if got.Kind() != r.Kind() || got.head().ID != objects.Sum(b) || got.head().Signer != k.Public() {
			t.Fatalf("%s: parsed as %s, id %s, signer %s", r.Kind(), got.Kind(), got.head().ID.Short(), got.head().Signer)
		}
		again, err := objects.Encode(got.Build())
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%s: rebuilt record differs (%v)", r.Kind(), err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	k, mallory := key(t, 9), key(t, 7)
	review := func() *Review { return &Review{Head: Head{Time: 5}, Commit: commitX, Verdict: Approve} }
	cases := []struct {
		name, want string
		make       func() *objects.Commit
	}{
		{"forged author", "signature", func() *objects.Commit {
			c, _ := Sign(review(), mallory)
			c.Author = k.Public() // claims k, signed by mallory
			return c
		}},
		{"altered after signing (another commit)", "signature", func() *objects.Commit {
			c, _ := Sign(review(), k)
			c.Meta[2].Value = commitY.String()
			return c
		}},
		{"unsigned", "not signed", func() *objects.Commit { return review().Build() }},
		{"unknown version", "newer fed", func() *objects.Commit {
			c := review().Build()
			c.Meta = setKV(c.Meta, VersionKey, "2")
			objects.SignCommit(c, k)
			return c
		}},
		{"unknown key", "unknown metadata", func() *objects.Commit {
			c := review().Build()
			c.Meta = objects.SortKV(append(c.Meta, objects.KV{Key: "review.weight", Value: "9"}))
			objects.SignCommit(c, k)
			return c
		}},
		{"bad verdict", "verdict", func() *objects.Commit {
			r := review()
			r.Verdict = "lgtm"
			c, _ := Sign(r, k)
			return c
		}},
		{"review with two parents", "2 parents", func() *objects.Commit {
			c := review().Build()
			c.Parents = []objects.ID{commitX, commitY}
			objects.SignCommit(c, k)
			return c
		}},
		{"upper-case commit id", "not a commit id", func() *objects.Commit {
			c := review().Build()
			c.Meta = setKV(c.Meta, ReviewCommitKey, strings.ToUpper(commitX.String()))
			objects.SignCommit(c, k)
			return c
		}},
		{"attestation without metrics", "no metric", func() *objects.Commit {
			c, _ := Sign(&Attestation{Commit: commitX}, k)
			return c
		}},
		{"metric not a number", "not a decimal number", func() *objects.Commit {
			c, _ := Sign(&Attestation{Commit: commitX, Metrics: []Metric{{Name: "acc", Text: "NaN"}}}, k)
			return c
		}},
		{"conditions without validators", "without validators", func() *objects.Commit {
			c, _ := Sign(&Policy{Branch: "main", Attest: []Condition{{Metric: "acc", Op: ">=", Text: "1"}}}, k)
			return c
		}},
		{"unsorted keys", "not sorted", func() *objects.Commit {
			a, b := SortKeys([]objects.PublicKey{k.Public(), mallory.Public()})[0], SortKeys([]objects.PublicKey{k.Public(), mallory.Public()})[1]
			c, _ := Sign(&Policy{Branch: "main", Maintainers: []objects.PublicKey{b, a}}, k)
			return c
		}},
		{"bad branch", "branch", func() *objects.Commit {
			c, _ := Sign(&Policy{Branch: "a..b"}, k)
			return c
		}},
		{"off policy with conditions", "unknown metadata", func() *objects.Commit {
			c, _ := Sign(&Policy{Branch: "main", Off: true}, k)
			c.Meta = objects.SortKV(append(c.Meta, objects.KV{Key: PolicyApprovalsKey, Value: "2"}))
			objects.SignCommit(c, k)
			return c
		}},
		{"name not a key", "does not name a key", func() *objects.Commit {
			c, _ := Sign(&Names{}, k)
			c.Meta = objects.SortKV(append(c.Meta, objects.KV{Key: NamesPrefix + "bob", Value: "Bob"}))
			objects.SignCommit(c, k)
			return c
		}},
		{"label with a newline", "control character", func() *objects.Commit {
			c, _ := Sign(&Names{Labels: map[objects.PublicKey]string{k.Public(): "a\nb"}}, k)
			return c
		}},
		{"not a record", "not a governance record", func() *objects.Commit {
			c := &objects.Commit{Tree: emptyTree, Message: "hi"}
			objects.SignCommit(c, k)
			return c
		}},
	}
	for _, tc := range cases {
		c := tc.make()
		b, err := objects.Encode(c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = Parse(objects.Sum(b), c)
		if err == nil || !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrBadRecord saying %q", tc.name, err, tc.want)
		}
	}
}

func setKV(kvs []objects.KV, key, value string) []objects.KV {
	for i := range kvs {
		if kvs[i].Key == key {
			kvs[i].Value = value
		}
	}
	return kvs
}

func TestCheck(t *testing.T) {
	owner, alice, bob, val, mallory := key(t, 1), key(t, 2), key(t, 4), key(t, 3), key(t, 7)
	p := &Policy{Branch: "main", Approvals: 2, Attest: []Condition{{Metric: "accuracy", Op: ">=", Value: 0.9, Text: "0.9"}},
		Validators: []objects.PublicKey{val.Public()}, RequireProofs: true}
	review := func(k *objects.Keypair, verdict string, t0 int64, about objects.ID) *Review {
		r := &Review{Head: Head{Time: t0}, Commit: about, Verdict: verdict}
		Sign(r, k)
		return r
	}
	attest := func(k *objects.Keypair, v string, about objects.ID) *Attestation {
		m, _ := ParseMetric("accuracy", v)
		a := &Attestation{Commit: about, Metrics: []Metric{m}}
		Sign(a, k)
		return a
	}
	collab := func(k objects.PublicKey) bool { return k != mallory.Public() }
	ev := Evidence{Commit: commitX, Author: owner.Public(), MayReview: collab}
	// nothing yet: all three conditions
	got := Check(p, ev)
	if len(got) != 3 || got[0].Condition != "approvals>=2" || got[1].Condition != "attestation accuracy>=0.9" || got[2].Condition != "proof" {
		t.Fatalf("no evidence: %v", got)
	}
	// the same approval twice, the author's own, an outsider's, one for
	// another commit, and an approval alice withdrew: one counts
	ev.Reviews = []*Review{
		review(bob, Approve, 1, commitX), review(bob, Approve, 2, commitX),
		review(owner, Approve, 1, commitX), review(mallory, Approve, 1, commitX),
		review(alice, Approve, 1, commitY),
		review(alice, Approve, 1, commitX), review(alice, Reject, 2, commitX),
	}
	// an attestation from a key the policy does not list, and a failing one
	ev.Attestations = []*Attestation{attest(mallory, "0.99", commitX), attest(val, "0.5", commitX), attest(val, "0.95", commitY)}
	ev.HasProof = true
	got = Check(p, ev)
	if len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	for _, want := range []string{"1 approval(s) by " + bob.Public().String(), "rejected by " + alice.Public().String(), "commit's author", "not a collaborator"} {
		if !strings.Contains(got[0].Have, want) {
			t.Errorf("approvals: have %q lacks %q", got[0].Have, want)
		}
	}
	for _, want := range []string{"accuracy=0.99 by " + mallory.Public().String() + ", not a listed validator", "accuracy=0.5 by " + val.Public().String()} {
		if !strings.Contains(got[1].Have, want) {
			t.Errorf("attestation: have %q lacks %q", got[1].Have, want)
		}
	}
	// alice approves again, the validator attests a passing value
	ev.Reviews = append(ev.Reviews, review(alice, Approve, 3, commitX))
	a := attest(val, "0.91", commitX)
	a.Time = 1
	Sign(a, val)
	ev.Attestations = append(ev.Attestations, a)
	if got := Check(p, ev); len(got) != 0 {
		t.Fatalf("satisfied policy: %v", got)
	}
	if got := Check(&Policy{Branch: "main", Off: true}, Evidence{}); len(got) != 0 {
		t.Fatalf("off policy asks %v", got)
	}
}

func TestParseRecordRef(t *testing.T) {
	id := objects.Sum([]byte("r"))
	p, c, r, ok := ParseRecordRef(ReviewRef(commitX, id))
	if !ok || p != ReviewsPrefix || c != commitX || r != id {
		t.Fatalf("review ref: %v %v %v %v", p, c, r, ok)
	}
	for _, bad := range []string{ReviewsPrefix + commitX.String(), AttestationsPrefix + commitX.String() + "/" + strings.ToUpper(id.String()), "refs/heads/main"} {
		if _, _, _, ok := ParseRecordRef(bad); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

// TestLatestOrder: a key's last word is the record that replaces the others
// (its parent chain), whatever their times; records of one second that
// replace nothing count only when they agree.
func TestLatestOrder(t *testing.T) {
	alice, bob := key(t, 2), key(t, 4)
	sign1 := func(r *Review, k *objects.Keypair) *Review {
		Sign(r, k)
		return r
	}
	first := sign1(&Review{Head: Head{Time: 10}, Commit: commitX, Verdict: Reject}, alice)
	second := sign1(&Review{Head: Head{Time: 10, Parent: first.ID}, Commit: commitX, Verdict: Approve}, alice)
	// bob "replaces" alice's approval: not his to replace
	bobs := sign1(&Review{Head: Head{Time: 9, Parent: second.ID}, Commit: commitX, Verdict: Approve}, bob)
	ev := Evidence{Commit: commitX, Reviews: []*Review{second, bobs, first}}
	got, notes := Approvals(ev)
	if len(got) != 2 || len(notes) != 0 {
		t.Fatalf("approvers %v, notes %v; want alice and bob", got, notes)
	}
	// two reviews of one second, neither replacing the other, disagree
	other := sign1(&Review{Head: Head{Time: 10, Message: "on second thought"}, Commit: commitX, Verdict: Reject}, alice)
	ev.Reviews = append(ev.Reviews, other)
	got, notes = Approvals(ev)
	if len(got) != 1 || len(notes) != 1 || !strings.Contains(notes[0], "disagree") {
		t.Fatalf("approvers %v, notes %v; want bob, and alice's disagreeing", got, notes)
	}
}

// TestVotes: N of M named voters decide; a voter counts once, by its last
// word, and keys outside the list do not count.
func TestVotes(t *testing.T) {
	alice, bob, carol, mallory := key(t, 2), key(t, 4), key(t, 5), key(t, 7)
	p := &Policy{Branch: "main", Voters: SortKeys([]objects.PublicKey{alice.Public(), bob.Public(), carol.Public()}), Votes: Majority(3)}
	vote := func(k *objects.Keypair, verdict string, t0 int64) *Review {
		r := &Review{Head: Head{Time: t0}, Commit: commitX, Verdict: verdict}
		Sign(r, k)
		return r
	}
	ev := Evidence{Commit: commitX, Reviews: []*Review{vote(bob, Approve, 1), vote(bob, Approve, 2), vote(mallory, Approve, 1), vote(alice, Reject, 1)}}
	got := Check(p, ev)
	if len(got) != 1 || got[0].Condition != "votes>=2 of 3" {
		t.Fatalf("got %v", got)
	}
	want := "1 for (" + bob.Public().String() + "), 1 against (" + alice.Public().String() + "), 1 not voted (" + carol.Public().String() + ")"
	if got[0].Have != want {
		t.Fatalf("have %q, want %q", got[0].Have, want)
	}
	ev.Reviews = append(ev.Reviews, vote(carol, Approve, 3))
	if got := Check(p, ev); len(got) != 0 {
		t.Fatalf("two of three for: %v", got)
	}
	// a policy whose votes exceed its voters, or voters without votes
	k := key(t, 9)
	for _, bad := range []*Policy{{Branch: "main", Voters: p.Voters, Votes: 4}, {Branch: "main", Voters: p.Voters}} {
		c, _ := Sign(bad, k)
		b, _ := objects.Encode(c)
		if _, err := Parse(objects.Sum(b), c); err == nil || !strings.Contains(err.Error(), "policy.votes") {
			t.Errorf("votes %d of %d: %v", bad.Votes, len(bad.Voters), err)
		}
	}
}
