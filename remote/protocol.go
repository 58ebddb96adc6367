package remote

import (
	"errors"
	"fmt"
	"strings"
)

// Protocol identification (doc/protocol.md, "Versioning").
const (
	// Version is the protocol version this package speaks.
	Version = 1
	// VersionHeader carries the protocol version on every request and
	// response.
	VersionHeader = "Fed-Protocol"
	// PathPrefix starts the path of every endpoint of this version.
	PathPrefix = "/fed/v1/"
	// RepoSeparator ends the repository name in a path:
	// /fed/v1/repos/<name>/-/<endpoint>.
	RepoSeparator = "/-/"
	// FeaturesHeader lists, on a request, the optional protocol features
	// the client understands (comma-separated names; doc/protocol.md,
	// "Features"). A server announces its own in Info.Features.
	FeaturesHeader = "Fed-Features"
)

// Optional features of protocol 1. A peer uses a feature only when the
// other side announced it: a client checks Info.Features before relying on
// a server's, and a server answers a client that did not list a feature it
// would need with a problem naming it, never with a body the client would
// misread.
const (
	// FeatureWithheld: ref updates may name withheld weight objects
	// (UpdateRequest.Withheld) and fetch plans list the withheld objects
	// they leave out (Plan.Withheld).
	FeatureWithheld = "withheld-weights"
	// FeatureProve: the server proves commits pushed without proofs in the
	// background (fed serve --prove); the proofs appear under
	// refs/proofs/<commit> when done.
	FeatureProve = "prove"
	// FeatureDeepen: fetch plans honour PlanRequest.Shallow, so the plan
	// of a shallow clone fetching the history beyond its depth leaves out
	// what it holds (a server without it lists those objects too).
	FeatureDeepen = "deepen"
	// FeaturePrivate: ref updates may mark weight objects private to the
	// server (UpdateRequest.Private), and fetch plans list the marked
	// objects they hold (Plan.Private).
	FeaturePrivate = "private-weights"
)

// MetaZKRoot is the commit metadata key holding the hex zk commitment root
// of the commit's weights (repo.MetaZKRoot): a commit whose weights are
// withheld must carry it.
const MetaZKRoot = "zk.root"

// Media types.
const (
	MediaJSON    = "application/json"
	MediaProblem = "application/problem+json"
	// MediaObjects is the framed object stream (frames.go).
	MediaObjects = "application/x-fed-objects"
	// MediaStored is one object's stored form (GET of one object).
	MediaStored = "application/x-fed-stored"
)

// Limits of the protocol itself (servers may set lower ones, announced by
// the info endpoint).
const (
	// MaxBatch is the most ids one JSON request may carry.
	MaxBatch = 10000
	// MaxRepoNameLen bounds a repository name.
	MaxRepoNameLen = 200
	// MaxUpdates bounds the ref updates of one request.
	MaxUpdates = 100
)

// Problem codes: the "code" member of every problem+json body. They are
// stable; clients branch on them, never on titles or details.
const (
	CodeBadRequest      = "bad-request"         // 400: malformed body or parameters
	CodeBadVersion      = "unsupported-version" // 400/404: protocol version mismatch
	CodeBadRepoName     = "bad-repo-name"       // 400
	CodeBadRefName      = "bad-ref-name"        // 400
	CodeUnauthenticated = "unauthenticated"     // 401: no or unknown token
	CodeTokenExpired    = "token-expired"       // 401: log in again
	CodeBadSignature    = "bad-signature"       // 401: login or push statement signature
	CodeBadNonce        = "bad-nonce"           // 401: unknown, used or expired nonce
	CodeForbidden       = "forbidden"           // 403: authenticated but not allowed
	CodeProtected       = "protected-branch"    // 403: only the owner may update it
	CodeForceDenied     = "force-denied"        // 403: no right to force
	CodeNonFastForward  = "non-fast-forward"    // 409: needs force
	CodeStale           = "stale-ref"           // 409: lost compare-and-swap
	CodeRepoIDChange    = "repo-id-change"      // 409: would change the id a linked NFT names
	CodeNotFound        = "not-found"           // 404: repository or object
	CodeNoCreate        = "creation-disabled"   // 403: server does not create repositories
	CodeIncomplete      = "incomplete"          // 422: objects of the new ids missing
	CodeNotTip          = "not-a-tip"           // 422: fetch wants an id no ref holds
	CodeHashMismatch    = "hash-mismatch"       // 422: uploaded bytes do not match id
	CodeBadObject       = "bad-object"          // 422: uploaded bytes are not an object
	CodeMissingBase     = "missing-base"        // 422: delta against an absent base
	CodeProofRequired   = "proof-required"      // 422: protected branch or withheld weights need proofs
	CodeWithheld        = "weights-withheld"    // 422: a plan needs withheld-weights, which the client did not announce
	CodeTooLarge        = "too-large"           // 413: object, request or batch too big
	CodeRateLimited     = "rate-limited"        // 429
	CodeInternal        = "internal"            // 500
	CodeUnavailable     = "unavailable"         // 503: shutting down or overloaded
	CodeStorageRefused  = "storage-refused"     // 502: the repository's storage refused the server (its access or configuration)
	CodeLeaseExpired    = "lease-expired"       // 409: objects a push announced were collected after its lease ran out; send them again
	// Rules between parties who do not trust each other (doc/security.md).
	CodeTagExists          = "tag-exists"           // 409: moving or replacing a tag needs force (the owner's)
	CodeBadObjectSignature = "bad-object-signature" // 422: a pushed commit or tag object is not signed by its author
	CodeReservedName       = "reserved-name"        // 422: a pushed tree names the repository directory .fed in some spelling
	CodeForeignAuthor      = "foreign-author"       // 403: a collaborator's new tip must be signed by the pusher
	CodeInvalidProof       = "invalid-proof"        // 422: a pushed proof does not verify with the repository's keys and settings
	CodeForeignProof       = "foreign-proof"        // 403: a proof the server cannot verify comes from its commit's author or the owner only
	CodeZKSettingMissing   = "zk-setting-missing"   // 422: checking proofs needs a zk setting the repository lacks (zk.linf)
	CodeBadSettings        = "bad-settings"         // 422: a settings commit that is malformed or not the owner's signed one
	CodeBadRecord          = "bad-record"           // 422: a governance ref names a malformed record, one of another kind or commit, or a policy or name map not signed by the owner
	CodePolicyUnmet        = "policy-unmet"         // 422: the new commit of a branch does not meet the branch's policy (unmet lists what is missing)
)

// ProblemTypePrefix starts the "type" URI of every problem; the code
// follows it.
const ProblemTypePrefix = "urn:fed:problem:"

// Errors callers branch on. A *Problem unwraps to the one matching its
// code.
var (
	ErrStale          = errors.New("remote: ref changed on the server")
	ErrNonFastForward = errors.New("remote: not a fast-forward")
	ErrUnauthorized   = errors.New("remote: not authenticated")
	ErrForbidden      = errors.New("remote: not allowed")
	ErrNotFound       = errors.New("remote: not found")
	ErrIncomplete     = errors.New("remote: objects missing on the server")
	ErrVersion        = errors.New("remote: protocol version mismatch")
	ErrTooLarge       = errors.New("remote: too large")
	ErrBadRequest     = errors.New("remote: bad request")
	// ErrProofRequired reports a push refused for want of a (valid) proof:
	// on a protected branch, or for a commit whose weights are withheld.
	ErrProofRequired = errors.New("remote: proof required")
	// ErrNoFeature reports a server that lacks an optional feature the
	// operation needs, or a client too old for one the server needs.
	ErrNoFeature = errors.New("remote: protocol feature not supported")
)

// ValidateRepoName checks a repository name: 1 to 8 components separated
// by '/', each of ASCII letters, digits, '.', '_' and '-', not starting
// with '.' or '-', not ending in ".fed" or ".lock", at most
// MaxRepoNameLen bytes in all. So no name is absolute, holds "..",
// backslashes, NUL or hidden components, or lands inside another
// repository's directory on the server.
func ValidateRepoName(name string) error {
	if name == "" || len(name) > MaxRepoNameLen {
		return fmt.Errorf("%w: repository name of %d bytes (1 to %d)", ErrBadRequest, len(name), MaxRepoNameLen)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 8 {
		return fmt.Errorf("%w: repository name %q has more than 8 components", ErrBadRequest, name)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%w: repository name %q has an empty component", ErrBadRequest, name)
		}
		if p[0] == '.' || p[0] == '-' {
			return fmt.Errorf("%w: repository name component %q starts with %q", ErrBadRequest, p, p[0])
		}
		if strings.HasSuffix(p, ".fed") || strings.HasSuffix(p, ".lock") {
			return fmt.Errorf("%w: repository name component %q ends in a reserved suffix", ErrBadRequest, p)
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: repository name %q contains %q", ErrBadRequest, name, c)
			}
		}
	}
	return nil
}

// RepoPath returns the path of an endpoint of repository name:
// /fed/v1/repos/<name>/-/<endpoint>.
func RepoPath(name, endpoint string) string {
	return PathPrefix + "repos/" + name + RepoSeparator + endpoint
}

// SplitRepoPath is the inverse of RepoPath for a path below
// PathPrefix+"repos/": it returns the repository name and the endpoint.
func SplitRepoPath(rest string) (name, endpoint string, ok bool) {
	i := strings.Index(rest, RepoSeparator)
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len(RepoSeparator):], true
}
