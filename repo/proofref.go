package repo

import (
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Proofs are attached to commits, not stored inside them: the proof
// object of commit C (kind proof, System zk.System) is named by the ref
// refs/proofs/<C's full hex id>. The namespace travels with push and fetch
// like refs/tags/; the proof object refers to C and to the chunk object
// holding its verifying key file, so copying the ref's closure copies both.
const ProofsPrefix = "refs/proofs/"

// Commit metadata keys the zk layer (package proving) reads.
const (
	// MetaZKRoot is the hex zk commitment root of the commit's weights;
	// when present (and signed with the commit) verifiers compare it with
	// the proof's root, which binds withheld weights to the commit.
	MetaZKRoot = "zk.root"
	// MetaMergeWeights lists a merge's integer weights, one per parent in
	// parent order, comma-separated ("1437,2000").
	MetaMergeWeights = "merge.weights"
)

// ProofRef returns the ref naming commit's proof.
func ProofRef(commit objects.ID) refs.Name { return refs.Name(ProofsPrefix + commit.String()) }
