package remote

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Governance refs on the wire (doc/protocol.md §6.9, doc/design.md §19):
// reviews and attestations under their own namespaces, a branch's policy
// chain and the name map under refs/meta/. They are pushed and fetched
// like tags and proofs; the server's rules for each are in remote/server.

// ErrPolicyUnmet reports a branch update refused by the branch's policy
// (problem code policy-unmet; Problem.Unmet says what is missing).
var ErrPolicyUnmet = errors.New("remote: branch policy not met")

// Unmet is one condition of a branch's policy the pushed commit does not
// meet, and what exists towards it.
type Unmet struct {
	Condition string `json:"condition"`
	Have      string `json:"have"`
}

// IsGovernanceRef reports whether name is in one of the governance
// namespaces (valid or not).
func IsGovernanceRef(name string) bool {
	return strings.HasPrefix(name, governance.ReviewsPrefix) || strings.HasPrefix(name, governance.AttestationsPrefix) ||
		strings.HasPrefix(name, governance.PolicyPrefix) || name == governance.NamesRef
}

// validateGovernanceRef checks a governance ref's name; isGov is false
// for names outside those namespaces.
func validateGovernanceRef(name string) (isGov bool, err error) {
	if !IsGovernanceRef(name) {
		return false, nil
	}
	switch {
	case name == governance.NamesRef:
		return true, nil
	case strings.HasPrefix(name, governance.PolicyPrefix):
		b := strings.TrimPrefix(name, governance.PolicyPrefix)
		if err := governance.CheckBranch(b); err != nil {
			return true, fmt.Errorf("ref %q: a policy ref is %s<branch>: %w", name, governance.PolicyPrefix, err)
		}
		return true, refs.ValidateName(refs.HeadsPrefix + b)
	}
	if _, _, _, ok := governance.ParseRecordRef(name); !ok {
		return true, fmt.Errorf("ref %q: a review or attestation ref is <prefix><commit id>/<record id>", name)
	}
	return true, nil
}

// VerifyPushLogEntry checks that e's signature is its pusher's over the
// push statement of this client's repository and server (doc/protocol.md
// §6.5): a push log entry a server made up, or altered, fails.
func (c *Client) VerifyPushLogEntry(e PushLogEntry) error {
	pusher, err := objects.ParsePublicKey(e.Pusher)
	if err != nil {
		return fmt.Errorf("push log entry of %s: pusher: %w", e.Time.UTC().Format(TimeFormat), err)
	}
	sig, err := DecodeSignature(e.Signature)
	if err != nil {
		return fmt.Errorf("push log entry of %s by %s: %w", e.Time.UTC().Format(TimeFormat), e.Pusher, err)
	}
	text := StatementPrivate(c.repo, c.base.Host, pusher, e.Time, e.Updates, e.Withheld, e.Private)
	if !objects.Verify(pusher, []byte(text), sig) {
		return fmt.Errorf("push log entry of %s by %s: the signature does not verify over its push statement", e.Time.UTC().Format(TimeFormat), e.Pusher)
	}
	return nil
}
