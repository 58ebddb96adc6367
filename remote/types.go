package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// The JSON bodies of the protocol. Each has a schema in doc/schemas/ named
// after it; ids are 64 lowercase hex digits, the all-zero id meaning
// "none"; times are RFC 3339 in UTC; keys are base58 Solana addresses.

// Info is the body of GET /fed/v1/info.
type Info struct {
	Protocol int    `json:"protocol"`
	Server   string `json:"server"`
	Limits   Limits `json:"limits"`
	// Features lists the optional features the server speaks
	// (FeatureWithheld, FeatureProve); absent on servers older than them.
	Features []string `json:"features,omitempty"`
}

// HasFeature reports whether the server announced feature f.
func (i *Info) HasFeature(f string) bool {
	for _, x := range i.Features {
		if x == f {
			return true
		}
	}
	return false
}

// Limits are a server's limits.
type Limits struct {
	MaxObjectSize   int64 `json:"max_object_size"`
	MaxRequestBytes int64 `json:"max_request_bytes"`
	MaxJSONBytes    int64 `json:"max_json_bytes"`
	MaxBatch        int   `json:"max_batch"`
}

// ChallengeRequest asks for a login challenge for Address.
type ChallengeRequest struct {
	Address string `json:"address"`
}

// Challenge is a login challenge: Message is the Sign-In-With-Solana text
// to sign.
type Challenge struct {
	Nonce     string    `json:"nonce"`
	Message   string    `json:"message"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LoginRequest answers a challenge: Signature is the base58 ed25519
// signature of the challenge message's UTF-8 bytes by Address.
type LoginRequest struct {
	Address   string `json:"address"`
	Nonce     string `json:"nonce"`
	Signature string `json:"signature"`
}

// LoginResponse carries the bearer token.
type LoginResponse struct {
	Token     string    `json:"token"`
	Address   string    `json:"address"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Ref is one ref on the wire.
type Ref struct {
	Name string     `json:"name"`
	ID   objects.ID `json:"id"`
}

// RefList is the body of GET refs.
type RefList struct {
	Head string `json:"head"` // the branch HEAD names, e.g. refs/heads/main
	Refs []Ref  `json:"refs"`
}

// IDList is a batch of ids (the missing query and its answer).
type IDList struct {
	IDs []objects.ID `json:"ids"`
}

// RefUpdate moves Name from Old to New (zero Old: create; zero New:
// delete, which needs Force).
type RefUpdate struct {
	Name  string     `json:"name"`
	Old   objects.ID `json:"old"`
	New   objects.ID `json:"new"`
	Force bool       `json:"force,omitempty"`
}

// UpdateRequest is the body of POST refs: the updates, applied all or
// nothing, and the pusher's signature of their statement (Statement).
type UpdateRequest struct {
	Updates []RefUpdate `json:"updates"`
	// Withheld names weight objects the pusher keeps off this server
	// (FeatureWithheld): tensor segments of the models of the pushed
	// commits. The server accepts their absence only under a model of a
	// commit that records MetaZKRoot and has a proof (doc/protocol.md
	// §6.5). They are part of the signed statement.
	Withheld []objects.ID `json:"withheld,omitempty"`
	// Private marks weight objects the pusher sends to this server only
	// (FeaturePrivate: an aggregator's copy of a private contribution):
	// tensor objects the server holds. Fetch plans list them in
	// Plan.Private, and fed never pushes them on to another remote unless
	// released (doc/protocol.md §6.5.2). They are part of the signed
	// statement.
	Private   []objects.ID `json:"private,omitempty"`
	Time      time.Time    `json:"time"`
	Signature string       `json:"signature"`
}

// UpdateResponse lists the refs after a successful update.
type UpdateResponse struct {
	Refs []Ref `json:"refs"`
}

// PlanRequest asks which objects a fetch needs: everything reachable from
// Want except what is reachable from Have (commits the client holds
// complete). Depth > 0 follows at most Depth commits from each want.
type PlanRequest struct {
	Want []objects.ID `json:"want"`
	Have []objects.ID `json:"have,omitempty"`
	// Shallow lists commits the client holds with their trees but
	// perhaps not their ancestry (feature deepen): the plan leaves them and
	// their trees out but walks on through their parents.
	Shallow []objects.ID `json:"shallow,omitempty"`
	Depth   int          `json:"depth,omitempty"`
}

// PlannedObject is one object of a plan: its stored size and, when the
// server keeps it as a delta, its base.
type PlannedObject struct {
	ID   objects.ID  `json:"id"`
	Size int64       `json:"size"`
	Base *objects.ID `json:"base,omitempty"`
}

// Plan answers a PlanRequest. Shallow lists the commits whose parents the
// plan leaves out because of Depth.
type Plan struct {
	Objects []PlannedObject `json:"objects"`
	Shallow []objects.ID    `json:"shallow,omitempty"`
	// Withheld lists objects reachable from the wants that the server does
	// not hold because their pushers withheld them (FeatureWithheld); the
	// client records them as absent on purpose.
	Withheld []objects.ID `json:"withheld,omitempty"`
	// Private lists the objects of the plan that their pushers marked
	// private to this server (FeaturePrivate); the client records them
	// and withholds them from every other remote.
	Private []objects.ID `json:"private,omitempty"`
}

// DownloadRequest asks for objects as a framed stream. A delta may be
// sent as a delta when its base is in HaveBases; otherwise every object
// comes self-contained.
type DownloadRequest struct {
	IDs       []objects.ID `json:"ids"`
	HaveBases []objects.ID `json:"have_bases,omitempty"`
}

// UploadResponse answers an upload.
type UploadResponse struct {
	Received int   `json:"received"` // frames received
	Added    int   `json:"added"`    // objects the server did not have
	Bytes    int64 `json:"bytes"`    // payload bytes received
}

// Settings are a repository's access settings.
type Settings struct {
	// Owner is the owner's key now: with NFT set, whoever holds the NFT
	// at the time of the request. Empty (absent) when nobody owns the
	// repository now: the NFT cannot be resolved (doc/protocol.md §6.8).
	Owner         string   `json:"owner,omitempty"`
	Public        bool     `json:"public"`
	Protected     []string `json:"protected"`
	Collaborators []string `json:"collaborators"`
	// NFT is the base58 mint of the repository NFT whose holder owns the
	// repository, or empty.
	NFT string `json:"nft,omitempty"`
	// ZK holds the hosted repository's zk settings (keys of ZKSettingKeys)
	// that are set: the bounds and chunk size the server proves with
	// (fed serve --prove) and checks proofs against (--require-proofs).
	// Absent when none are set or the server keeps none.
	ZK map[string]string `json:"zk,omitempty"`
}

// ZKSettingKeys are the repository settings an owner can set on a
// server (SettingsUpdate.ZK): the ones that define what a proof of the
// repository states. zk.prove (when a client proves) stays local.
var ZKSettingKeys = []string{"zk.chunk", "zk.linf", "zk.l2", "zk.vk"}

// SettingsUpdate changes settings (owner only); nil fields stay.
type SettingsUpdate struct {
	Public    *bool     `json:"public,omitempty"`
	Protected *[]string `json:"protected,omitempty"`
	// NFT links the repository to a repository NFT (base58 mint), whose
	// holder is then the owner; "" unlinks it.
	NFT *string `json:"nft,omitempty"`
	// ZK sets zk settings (keys of ZKSettingKeys); a key whose value is ""
	// is removed. The server validates the values as `fed config` does.
	ZK map[string]string `json:"zk,omitempty"`
}

// PushLogEntry is one signed push kept by the server.
type PushLogEntry struct {
	Time     time.Time    `json:"time"`
	Pusher   string       `json:"pusher"`
	Updates  []RefUpdate  `json:"updates"`
	Withheld []objects.ID `json:"withheld,omitempty"`
	Private  []objects.ID `json:"private,omitempty"`
	// Signature signs StatementPrivate of the fields above.
	Signature string `json:"signature"`
}

// PushLog is the body of GET pushlog.
type PushLog struct {
	Entries []PushLogEntry `json:"entries"`
}

// Problem is an RFC 9457 problem detail with fed's extension members.
// It is the error clients get for every failed request.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	// Extensions, set by some codes.
	Ref       string       `json:"ref,omitempty"`     // stale-ref, non-fast-forward, protected-branch
	Current   *objects.ID  `json:"current,omitempty"` // stale-ref: the ref's value now (zero: absent)
	Missing   []objects.ID `json:"missing,omitempty"` // incomplete, not-found (first 100)
	Supported []int        `json:"supported,omitempty"`
	Unmet     []Unmet      `json:"unmet,omitempty"` // policy-unmet: each condition not met, and what exists
	// RetryAfter is the Retry-After header of the response, when present.
	RetryAfter time.Duration `json:"-"`
}

// NewProblem returns a problem with type, title and status set from code.
func NewProblem(status int, code, format string, args ...any) *Problem {
	return &Problem{Type: ProblemTypePrefix + code, Title: titles[code], Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

var titles = map[string]string{
	CodeBadRequest:         "Bad request",
	CodeBadVersion:         "Unsupported protocol version",
	CodeBadRepoName:        "Invalid repository name",
	CodeBadRefName:         "Invalid ref name",
	CodeUnauthenticated:    "Authentication required",
	CodeTokenExpired:       "Token expired",
	CodeBadSignature:       "Bad signature",
	CodeBadNonce:           "Unknown, used or expired nonce",
	CodeForbidden:          "Forbidden",
	CodeProtected:          "Protected branch",
	CodeForceDenied:        "Force not allowed",
	CodeNonFastForward:     "Not a fast-forward",
	CodeStale:              "Ref changed",
	CodeRepoIDChange:       "Repository id would change",
	CodeNotFound:           "Not found",
	CodeNoCreate:           "Repository creation disabled",
	CodeIncomplete:         "Objects missing",
	CodeNotTip:             "Not a ref tip",
	CodeHashMismatch:       "Hash mismatch",
	CodeBadObject:          "Bad object",
	CodeMissingBase:        "Delta base missing",
	CodeProofRequired:      "Proof required",
	CodeWithheld:           "Weights withheld",
	CodeTooLarge:           "Too large",
	CodeRateLimited:        "Too many requests",
	CodeInternal:           "Internal server error",
	CodeUnavailable:        "Service unavailable",
	CodeStorageRefused:     "Storage refused the server",
	CodeLeaseExpired:       "Lease expired",
	CodeTagExists:          "Tag exists",
	CodeBadObjectSignature: "Bad object signature",
	CodeReservedName:       "Reserved name",
	CodeForeignAuthor:      "Foreign author",
	CodeInvalidProof:       "Invalid proof",
	CodeForeignProof:       "Proof from a third party",
	CodeZKSettingMissing:   "zk setting missing",
	CodeBadSettings:        "Bad signed settings",
	CodeBadRecord:          "Bad governance record",
	CodePolicyUnmet:        "Branch policy not met",
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("remote: %s (%d %s)", p.Title, p.Status, p.Code)
	if p.Title == "" {
		s = fmt.Sprintf("remote: %d %s", p.Status, p.Code)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Unwrap maps the code to the package's sentinel errors.
func (p *Problem) Unwrap() error {
	switch p.Code {
	case CodeStale:
		return ErrStale
	case CodeNonFastForward, CodeTagExists:
		return ErrNonFastForward
	case CodeUnauthenticated, CodeTokenExpired, CodeBadSignature, CodeBadNonce:
		return ErrUnauthorized
	case CodeForbidden, CodeProtected, CodeForceDenied, CodeNoCreate, CodeForeignAuthor, CodeForeignProof:
		return ErrForbidden
	case CodeNotFound:
		return ErrNotFound
	case CodeIncomplete:
		return ErrIncomplete
	case CodeBadVersion:
		return ErrVersion
	case CodeTooLarge:
		return ErrTooLarge
	case CodeBadRequest, CodeBadRepoName, CodeBadRefName, CodeHashMismatch, CodeBadObject, CodeMissingBase, CodeNotTip, CodeBadObjectSignature, CodeReservedName:
		return ErrBadRequest
	case CodeProofRequired, CodeInvalidProof, CodeZKSettingMissing:
		return ErrProofRequired
	case CodeWithheld:
		return ErrNoFeature
	case CodeBadSettings:
		return ErrBadSettings
	case CodeBadRecord:
		return ErrBadRequest
	case CodePolicyUnmet:
		return ErrPolicyUnmet
	}
	return nil
}

// Retryable reports whether a request that got p may succeed if repeated
// unchanged: 429 and 5xx.
func (p *Problem) Retryable() bool { return p.Status == 429 || p.Status >= 500 }

// DecodeJSON decodes one JSON value of type T from r, reading at most
// limit bytes: trailing data, a body over the limit or a value of the
// wrong shape are errors wrapping ErrBadRequest (ErrTooLarge for size).
// Unknown members are ignored.
func DecodeJSON[T any](r io.Reader, limit int64) (*T, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit)
	}
	return UnmarshalJSON[T](b)
}

// UnmarshalJSON is DecodeJSON over bytes.
func UnmarshalJSON[T any](b []byte) (*T, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	v := new(T)
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrBadRequest, v, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after JSON body", ErrBadRequest)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after JSON body", ErrBadRequest)
	}
	if c, ok := any(v).(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	}
	return v, nil
}

func checkBatch(what string, n int) error {
	if n > MaxBatch {
		return fmt.Errorf("%s: %d ids (at most %d)", what, n, MaxBatch)
	}
	return nil
}

func (r *ChallengeRequest) check() error {
	if len(r.Address) > 64 {
		return fmt.Errorf("address too long")
	}
	_, err := objects.ParsePublicKey(r.Address)
	return err
}

func (r *LoginRequest) check() error {
	if len(r.Address) > 64 || len(r.Nonce) > 128 || len(r.Signature) > 128 {
		return fmt.Errorf("login request field too long")
	}
	if _, err := objects.ParsePublicKey(r.Address); err != nil {
		return err
	}
	if r.Nonce == "" {
		return fmt.Errorf("login request without nonce")
	}
	_, err := DecodeSignature(r.Signature)
	return err
}

func (r *IDList) check() error { return checkBatch("ids", len(r.IDs)) }

func (r *PlanRequest) check() error {
	if len(r.Want) == 0 {
		return fmt.Errorf("plan without wants")
	}
	if r.Depth < 0 {
		return fmt.Errorf("negative depth %d", r.Depth)
	}
	if err := checkBatch("want", len(r.Want)); err != nil {
		return err
	}
	if err := checkBatch("shallow", len(r.Shallow)); err != nil {
		return err
	}
	return checkBatch("have", len(r.Have))
}

func (r *DownloadRequest) check() error {
	if err := checkBatch("ids", len(r.IDs)); err != nil {
		return err
	}
	return checkBatch("have_bases", len(r.HaveBases))
}

func (r *UpdateRequest) check() error {
	if len(r.Updates) == 0 || len(r.Updates) > MaxUpdates {
		return fmt.Errorf("%d updates (1 to %d)", len(r.Updates), MaxUpdates)
	}
	seen := map[string]bool{}
	for _, u := range r.Updates {
		if err := ValidateRefName(u.Name); err != nil {
			return err
		}
		if seen[u.Name] {
			return fmt.Errorf("ref %s updated twice", u.Name)
		}
		seen[u.Name] = true
		if u.Old == u.New {
			return fmt.Errorf("ref %s: old equals new", u.Name)
		}
	}
	if err := checkBatch("withheld", len(r.Withheld)); err != nil {
		return err
	}
	for _, id := range r.Withheld {
		if id.IsZero() {
			return fmt.Errorf("withheld: zero id")
		}
	}
	if err := checkBatch("private", len(r.Private)); err != nil {
		return err
	}
	for _, id := range r.Private {
		if id.IsZero() {
			return fmt.Errorf("private: zero id")
		}
	}
	if r.Time.IsZero() {
		return fmt.Errorf("update without time")
	}
	_, err := DecodeSignature(r.Signature)
	return err
}

func (r *SettingsUpdate) check() error {
	for k, v := range r.ZK {
		if !slices.Contains(ZKSettingKeys, k) {
			return fmt.Errorf("zk: %q is not a setting a server keeps (want one of %s)", k, strings.Join(ZKSettingKeys, ", "))
		}
		if len(v) > 1024 {
			return fmt.Errorf("zk: %s: value of %d bytes", k, len(v))
		}
	}
	if r.NFT != nil && *r.NFT != "" {
		if len(*r.NFT) > 44 {
			return fmt.Errorf("nft: %d characters, not a base58 address", len(*r.NFT))
		}
		if _, err := objects.ParsePublicKey(*r.NFT); err != nil {
			return fmt.Errorf("nft: %w", err)
		}
	}
	if r.Protected != nil {
		if len(*r.Protected) > MaxUpdates {
			return fmt.Errorf("%d protected refs (at most %d)", len(*r.Protected), MaxUpdates)
		}
		for _, n := range *r.Protected {
			if err := ValidateRefName(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateRefName checks a ref name a client may push: a valid ref name
// under refs/heads/ or refs/tags/.
func ValidateRefName(name string) error {
	if strings.HasPrefix(name, ProofsPrefix) {
		if _, err := objects.ParseID(strings.TrimPrefix(name, ProofsPrefix)); err != nil {
			return fmt.Errorf("ref %q: a proof ref is refs/proofs/<commit id>", name)
		}
		return nil
	}
	if name == SettingsRef {
		return nil
	}
	if isGov, err := validateGovernanceRef(name); isGov {
		return err
	}
	if !strings.HasPrefix(name, refs.HeadsPrefix) && !strings.HasPrefix(name, refs.TagsPrefix) {
		return fmt.Errorf("ref %q: only refs/heads/, refs/tags/, refs/proofs/, %s and the governance refs (refs/reviews/, refs/attestations/, refs/meta/policy/, refs/meta/names) may be pushed", name, SettingsRef)
	}
	return refs.ValidateName(name)
}

// ProofsPrefix names proof refs: refs/proofs/<commit id> holds the id of
// the proof object attached to that commit (doc/design.md, "Proofs").
const ProofsPrefix = "refs/proofs/"

// DecodeSignature parses a base58 ed25519 signature.
func DecodeSignature(s string) ([]byte, error) {
	if len(s) > 100 {
		return nil, fmt.Errorf("signature of %d characters", len(s))
	}
	b, err := objects.DecodeBase58(s)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if len(b) != 64 {
		return nil, fmt.Errorf("signature of %d bytes, want 64", len(b))
	}
	return b, nil
}
