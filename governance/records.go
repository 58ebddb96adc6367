package governance

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fed-vcs/fed/objects"
)

// Record kinds, the value of KindKey.
const (
	KindReview      = "review"
	KindAttestation = "attestation"
	KindPolicy      = "policy"
	KindNames       = "names"
)

// Metadata keys (doc/design.md §19).
const (
	VersionKey = "fed.gov" // the record format version, Version
	Version    = "1"
	KindKey    = "gov.kind"

	ReviewCommitKey  = "review.commit"
	ReviewVerdictKey = "review.verdict"

	AttestCommitKey    = "attest.commit"
	AttestDatasetKey   = "attest.dataset"
	AttestCommandKey   = "attest.command"
	AttestOutputKey    = "attest.output"
	AttestMetricPrefix = "attest.metric."

	PolicyBranchKey        = "policy.branch"
	PolicyStateKey         = "policy.state" // "on" or "off" (unset)
	PolicyApprovalsKey     = "policy.approvals"
	PolicyAttestPrefix     = "policy.attest."
	PolicyValidatorsKey    = "policy.validators"
	PolicyMaintainersKey   = "policy.maintainers"
	PolicyRequireProofsKey = "policy.require-proofs"
	PolicyVotersKey        = "policy.voters"
	PolicyVotesKey         = "policy.votes"

	NamesPrefix = "names."
)

// Review verdicts.
const (
	Approve = "approve"
	Reject  = "reject"
	Comment = "comment"
)

// Limits of the fields (doc/design.md §19).
const (
	MaxMetrics    = 64
	MaxOutput     = 64 << 10
	MaxCommand    = 4096
	MaxName       = 128
	MaxNames      = 4096
	MaxKeys       = 256
	MaxApprovals  = 1000
	maxMetricName = 64
	maxNumber     = 64
	maxMessage    = 64 << 10
)

// ErrBadRecord reports a record that is malformed or whose signature does
// not verify; the message names the record and what is wrong.
var ErrBadRecord = errors.New("governance: bad record")

// Head is what every record has: its commit's id, signer, time, time
// zone, parent (zero: none), message and signature.
type Head struct {
	ID        objects.ID
	Signer    objects.PublicKey
	Time      int64
	TZ        int16
	Parent    objects.ID
	Message   string
	Signature []byte
}

// Review is a signed verdict on a commit.
type Review struct {
	Head
	Commit  objects.ID
	Verdict string // Approve, Reject or Comment
}

// Metric is one measured value; Text is the decimal as signed.
type Metric struct {
	Name  string
	Value float64
	Text  string
}

// Attestation is a validator's signed evaluation of a commit's model.
type Attestation struct {
	Head
	Commit  objects.ID
	Metrics []Metric // sorted by name
	Dataset string   // lowercase hex SHA-256 of the data set, or ""
	Command string   // the evaluation command, or ""
	Output  string   // its JSON output, or ""
}

// Condition is a policy's bound on a metric: Metric Op Value, Op ">=" or
// "<="; Text is the value as signed.
type Condition struct {
	Metric string
	Op     string
	Value  float64
	Text   string
}

// String returns the condition as written: "accuracy>=0.9".
func (c Condition) String() string { return c.Metric + c.Op + c.Text }

// Holds reports whether v satisfies the condition.
func (c Condition) Holds(v float64) bool {
	if c.Op == "<=" {
		return v <= c.Value
	}
	return v >= c.Value
}

// Policy is the owner's signed rule for a protected branch. Off (fed
// policy unset) leaves the branch unprotected; the record stays in the
// chain, so the log shows when.
type Policy struct {
	Head
	Branch        string // short branch name: "main"
	Off           bool
	Approvals     int
	Attest        []Condition // sorted by metric
	Validators    []objects.PublicKey
	Maintainers   []objects.PublicKey
	RequireProofs bool
	// Voters decide by vote: Votes of them (N of M) must approve, by
	// their last word on the commit (doc/design.md §19).
	Voters []objects.PublicKey
	Votes  int
}

// Majority returns the smallest number of m voters that is more than
// half of them.
func Majority(m int) int { return m/2 + 1 }

// Names is the owner's signed map of labels for keys. Labels are never
// identities: signatures are checked on keys.
type Names struct {
	Head
	Labels map[objects.PublicKey]string
}

// emptyTree is the id and encoding of the empty tree every record names.
var emptyTree, emptyTreeBytes = func() (objects.ID, []byte) {
	b, err := objects.Encode(&objects.Tree{})
	if err != nil {
		panic(err)
	}
	return objects.Sum(b), b
}()

// EmptyTree returns the id and canonical encoding of the empty tree, which
// a store must hold for a record to be complete.
func EmptyTree() (objects.ID, []byte) { return emptyTree, emptyTreeBytes }

// commit returns the unsigned commit of a record with these fields.
func (h *Head) commit(kind string, meta []objects.KV) *objects.Commit {
	c := &objects.Commit{Tree: emptyTree, Author: h.Signer, Time: h.Time, TZ: h.TZ, Message: h.Message, Signature: h.Signature}
	if !h.Parent.IsZero() {
		c.Parents = []objects.ID{h.Parent}
	}
	meta = append(meta, objects.KV{Key: VersionKey, Value: Version}, objects.KV{Key: KindKey, Value: kind})
	c.Meta = objects.SortKV(meta)
	return c
}

// Record is a review, an attestation, a policy or a name map.
type Record interface {
	// Build returns the record's commit, signed when Signature is set.
	Build() *objects.Commit
	// Kind returns KindReview, KindAttestation, KindPolicy or KindNames.
	Kind() string
	head() *Head
}

func (h *Head) head() *Head { return h }

func (*Review) Kind() string      { return KindReview }
func (*Attestation) Kind() string { return KindAttestation }
func (*Policy) Kind() string      { return KindPolicy }
func (*Names) Kind() string       { return KindNames }

// Build returns the review's commit.
func (r *Review) Build() *objects.Commit {
	return r.Head.commit(KindReview, []objects.KV{
		{Key: ReviewCommitKey, Value: r.Commit.String()},
		{Key: ReviewVerdictKey, Value: r.Verdict},
	})
}

// Build returns the attestation's commit.
func (a *Attestation) Build() *objects.Commit {
	meta := []objects.KV{{Key: AttestCommitKey, Value: a.Commit.String()}}
	for _, m := range a.Metrics {
		meta = append(meta, objects.KV{Key: AttestMetricPrefix + m.Name, Value: m.Text})
	}
	for _, kv := range []objects.KV{{Key: AttestDatasetKey, Value: a.Dataset}, {Key: AttestCommandKey, Value: a.Command}, {Key: AttestOutputKey, Value: a.Output}} {
		if kv.Value != "" {
			meta = append(meta, kv)
		}
	}
	return a.Head.commit(KindAttestation, meta)
}

// Build returns the policy's commit.
func (p *Policy) Build() *objects.Commit {
	state := "on"
	if p.Off {
		state = "off"
	}
	meta := []objects.KV{{Key: PolicyBranchKey, Value: p.Branch}, {Key: PolicyStateKey, Value: state}}
	if !p.Off {
		if p.Approvals > 0 {
			meta = append(meta, objects.KV{Key: PolicyApprovalsKey, Value: strconv.Itoa(p.Approvals)})
		}
		for _, c := range p.Attest {
			meta = append(meta, objects.KV{Key: PolicyAttestPrefix + c.Metric, Value: c.Op + c.Text})
		}
		if len(p.Validators) > 0 {
			meta = append(meta, objects.KV{Key: PolicyValidatorsKey, Value: joinKeys(p.Validators)})
		}
		if len(p.Maintainers) > 0 {
			meta = append(meta, objects.KV{Key: PolicyMaintainersKey, Value: joinKeys(p.Maintainers)})
		}
		if p.RequireProofs {
			meta = append(meta, objects.KV{Key: PolicyRequireProofsKey, Value: "true"})
		}
		if len(p.Voters) > 0 {
			meta = append(meta, objects.KV{Key: PolicyVotersKey, Value: joinKeys(p.Voters)}, objects.KV{Key: PolicyVotesKey, Value: strconv.Itoa(p.Votes)})
		}
	}
	return p.Head.commit(KindPolicy, meta)
}

// Build returns the name map's commit.
func (n *Names) Build() *objects.Commit {
	meta := make([]objects.KV, 0, len(n.Labels))
	for k, v := range n.Labels {
		meta = append(meta, objects.KV{Key: NamesPrefix + k.String(), Value: v})
	}
	return n.Head.commit(KindNames, meta)
}

// Sign signs r's commit with k, setting its signer, signature and id.
func Sign(r Record, k *objects.Keypair) (*objects.Commit, error) {
	h := r.head()
	h.Signer = k.Public()
	h.Signature = nil
	c := r.Build()
	if err := objects.SignCommit(c, k); err != nil {
		return nil, err
	}
	h.Signature = c.Signature
	b, err := objects.Encode(c)
	if err != nil {
		return nil, err
	}
	h.ID = objects.Sum(b)
	return c, nil
}

// SortKeys sorts keys by their base58 form and drops repeats, the order
// a policy lists them in.
func SortKeys(keys []objects.PublicKey) []objects.PublicKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b objects.PublicKey) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

func joinKeys(keys []objects.PublicKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, ",")
}

// Parse checks that c (whose id is id) is a well-formed record signed by
// its author and returns it: a *Review, *Attestation, *Policy or *Names.
// It does not judge who signed it; callers do.
func Parse(id objects.ID, c *objects.Commit) (Record, error) {
	fail := func(format string, args ...any) (Record, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadRecord, id.Short(), fmt.Sprintf(format, args...))
	}
	v, ok := c.Value(VersionKey)
	if !ok {
		return fail("no %s: not a governance record", VersionKey)
	}
	if v != Version {
		return fail("%s=%q (this fed knows version %s; a newer fed release wrote it)", VersionKey, v, Version)
	}
	kind, _ := c.Value(KindKey)
	if c.Tree != emptyTree {
		return fail("its tree is not the empty tree")
	}
	if len(c.Message) > maxMessage {
		return fail("message of %d bytes (at most %d)", len(c.Message), maxMessage)
	}
	h := Head{ID: id, Signer: c.Author, Time: c.Time, TZ: c.TZ, Message: c.Message, Signature: c.Signature}
	switch len(c.Parents) {
	case 0:
	case 1:
		h.Parent = c.Parents[0]
	default:
		return fail("%d parents (at most 1)", len(c.Parents))
	}
	fields := map[string]string{}
	for _, kv := range c.Meta {
		if kv.Key != VersionKey && kv.Key != KindKey {
			fields[kv.Key] = kv.Value
		}
	}
	var r Record
	var err error
	switch kind {
	case KindReview:
		r, err = parseReview(h, fields)
	case KindAttestation:
		r, err = parseAttestation(h, fields)
	case KindPolicy:
		r, err = parsePolicy(h, fields)
	case KindNames:
		r, err = parseNames(h, fields)
	default:
		return fail("%s=%q (want %s, %s, %s or %s)", KindKey, kind, KindReview, KindAttestation, KindPolicy, KindNames)
	}
	if err != nil {
		return fail("%s: %v", kind, err)
	}
	// what Build writes for the value read, and nothing else
	if len(r.Build().Meta) != len(c.Meta) {
		return fail("%s: unknown or repeated metadata", kind)
	}
	if err := objects.VerifyCommit(c); err != nil {
		return fail("%s signed by %s: %v", kind, c.Author, err)
	}
	return r, nil
}

func parseCommitID(fields map[string]string, key string) (objects.ID, error) {
	v, ok := fields[key]
	if !ok {
		return objects.ZeroID, fmt.Errorf("no %s", key)
	}
	delete(fields, key)
	id, err := objects.ParseID(v)
	if err != nil || id.String() != v {
		return objects.ZeroID, fmt.Errorf("%s=%q is not a commit id (64 lowercase hex digits)", key, v)
	}
	return id, nil
}

func unknown(fields map[string]string) error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return fmt.Errorf("unknown metadata %s", strings.Join(keys, ", "))
}

func parseReview(h Head, fields map[string]string) (Record, error) {
	r := &Review{Head: h}
	var err error
	if r.Commit, err = parseCommitID(fields, ReviewCommitKey); err != nil {
		return nil, err
	}
	r.Verdict = fields[ReviewVerdictKey]
	delete(fields, ReviewVerdictKey)
	if err := CheckVerdict(r.Verdict); err != nil {
		return nil, err
	}
	return r, unknown(fields)
}

// CheckVerdict checks a review's verdict.
func CheckVerdict(v string) error {
	switch v {
	case Approve, Reject, Comment:
		return nil
	}
	return fmt.Errorf("verdict %q (want %s, %s or %s)", v, Approve, Reject, Comment)
}

func parseAttestation(h Head, fields map[string]string) (Record, error) {
	a := &Attestation{Head: h}
	var err error
	if a.Commit, err = parseCommitID(fields, AttestCommitKey); err != nil {
		return nil, err
	}
	a.Dataset, a.Command, a.Output = fields[AttestDatasetKey], fields[AttestCommandKey], fields[AttestOutputKey]
	delete(fields, AttestDatasetKey)
	delete(fields, AttestCommandKey)
	delete(fields, AttestOutputKey)
	if err := CheckDataset(a.Dataset); err != nil {
		return nil, err
	}
	if len(a.Command) > MaxCommand {
		return nil, fmt.Errorf("command of %d bytes (at most %d)", len(a.Command), MaxCommand)
	}
	if len(a.Output) > MaxOutput {
		return nil, fmt.Errorf("output of %d bytes (at most %d)", len(a.Output), MaxOutput)
	}
	for k, v := range fields {
		name, ok := strings.CutPrefix(k, AttestMetricPrefix)
		if !ok {
			continue
		}
		m, err := ParseMetric(name, v)
		if err != nil {
			return nil, err
		}
		a.Metrics = append(a.Metrics, m)
		delete(fields, k)
	}
	if len(a.Metrics) == 0 {
		return nil, errors.New("no metric")
	}
	if len(a.Metrics) > MaxMetrics {
		return nil, fmt.Errorf("%d metrics (at most %d)", len(a.Metrics), MaxMetrics)
	}
	slices.SortFunc(a.Metrics, func(x, y Metric) int { return strings.Compare(x.Name, y.Name) })
	return a, unknown(fields)
}

// CheckDataset checks a data set digest: empty, or 64 lowercase hex digits.
func CheckDataset(d string) error {
	if d == "" {
		return nil
	}
	if len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
		return fmt.Errorf("dataset digest %q: want a SHA-256 as 64 lowercase hex digits", d)
	}
	return nil
}

// CheckMetricName checks a metric's name: 1 to 64 of A-Z a-z 0-9 _ . -.
func CheckMetricName(name string) error {
	if name == "" || len(name) > maxMetricName {
		return fmt.Errorf("metric name %q: want 1 to %d characters", name, maxMetricName)
	}
	for _, r := range name {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-')) {
			return fmt.Errorf("metric name %q: only letters, digits, '_', '.' and '-'", name)
		}
	}
	return nil
}

// ParseNumber reads a metric value or bound: a finite decimal of at most
// 64 characters as strconv.ParseFloat reads it, without spaces.
func ParseNumber(s string) (float64, error) {
	if s == "" || len(s) > maxNumber || strings.ContainsAny(s, " _xXpPiInN") {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a finite decimal number", s)
	}
	return f, nil
}

// ParseMetric checks a metric's name and value.
func ParseMetric(name, value string) (Metric, error) {
	if err := CheckMetricName(name); err != nil {
		return Metric{}, err
	}
	f, err := ParseNumber(value)
	if err != nil {
		return Metric{}, fmt.Errorf("metric %s: %w", name, err)
	}
	return Metric{Name: name, Value: f, Text: value}, nil
}

// ParseCondition reads "METRIC>=VALUE" or "METRIC<=VALUE".
func ParseCondition(s string) (Condition, error) {
	for _, op := range []string{">=", "<="} {
		if name, value, ok := strings.Cut(s, op); ok {
			return parseCondition(name, op+value)
		}
	}
	return Condition{}, fmt.Errorf("condition %q: want METRIC>=VALUE or METRIC<=VALUE", s)
}

func parseCondition(name, bound string) (Condition, error) {
	if err := CheckMetricName(name); err != nil {
		return Condition{}, err
	}
	if len(bound) < 2 || (bound[:2] != ">=" && bound[:2] != "<=") {
		return Condition{}, fmt.Errorf("condition on %s: %q does not start with >= or <=", name, bound)
	}
	f, err := ParseNumber(bound[2:])
	if err != nil {
		return Condition{}, fmt.Errorf("condition on %s: %w", name, err)
	}
	return Condition{Metric: name, Op: bound[:2], Value: f, Text: bound[2:]}, nil
}

// ParseKeys reads a policy's key list: base58 keys separated by commas,
// sorted and without repeats (SortKeys).
func ParseKeys(s string) ([]objects.PublicKey, error) {
	parts := strings.Split(s, ",")
	if len(parts) > MaxKeys {
		return nil, fmt.Errorf("%d keys (at most %d)", len(parts), MaxKeys)
	}
	keys := make([]objects.PublicKey, len(parts))
	for i, p := range parts {
		k, err := objects.ParsePublicKey(p)
		if err != nil || k.String() != p {
			return nil, fmt.Errorf("%q is not a key (base58 ed25519 public key)", p)
		}
		keys[i] = k
	}
	if joinKeys(SortKeys(keys)) != s {
		return nil, fmt.Errorf("keys %q are not sorted without repeats", s)
	}
	return keys, nil
}

func parsePolicy(h Head, fields map[string]string) (Record, error) {
	p := &Policy{Head: h, Branch: fields[PolicyBranchKey]}
	delete(fields, PolicyBranchKey)
	if err := CheckBranch(p.Branch); err != nil {
		return nil, err
	}
	switch st := fields[PolicyStateKey]; st {
	case "on":
	case "off":
		p.Off = true
	default:
		return nil, fmt.Errorf("%s=%q (want on or off)", PolicyStateKey, st)
	}
	delete(fields, PolicyStateKey)
	if p.Off {
		return p, unknown(fields)
	}
	if v, ok := fields[PolicyApprovalsKey]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > MaxApprovals || strconv.Itoa(n) != v {
			return nil, fmt.Errorf("%s=%q: want 1 to %d", PolicyApprovalsKey, v, MaxApprovals)
		}
		p.Approvals = n
		delete(fields, PolicyApprovalsKey)
	}
	for _, key := range []string{PolicyValidatorsKey, PolicyMaintainersKey, PolicyVotersKey} {
		v, ok := fields[key]
		if !ok {
			continue
		}
		keys, err := ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		switch key {
		case PolicyValidatorsKey:
			p.Validators = keys
		case PolicyMaintainersKey:
			p.Maintainers = keys
		default:
			p.Voters = keys
		}
		delete(fields, key)
	}
	if v, ok := fields[PolicyVotesKey]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > len(p.Voters) || strconv.Itoa(n) != v {
			return nil, fmt.Errorf("%s=%q: want 1 to the number of voters (%d)", PolicyVotesKey, v, len(p.Voters))
		}
		p.Votes = n
		delete(fields, PolicyVotesKey)
	} else if len(p.Voters) > 0 {
		return nil, fmt.Errorf("%s without %s", PolicyVotersKey, PolicyVotesKey)
	}
	if v, ok := fields[PolicyRequireProofsKey]; ok {
		if v != "true" {
			return nil, fmt.Errorf("%s=%q (want true, or no such key)", PolicyRequireProofsKey, v)
		}
		p.RequireProofs = true
		delete(fields, PolicyRequireProofsKey)
	}
	for k, v := range fields {
		name, ok := strings.CutPrefix(k, PolicyAttestPrefix)
		if !ok {
			continue
		}
		c, err := parseCondition(name, v)
		if err != nil {
			return nil, err
		}
		p.Attest = append(p.Attest, c)
		delete(fields, k)
	}
	if len(p.Attest) > MaxMetrics {
		return nil, fmt.Errorf("%d attestation conditions (at most %d)", len(p.Attest), MaxMetrics)
	}
	slices.SortFunc(p.Attest, func(x, y Condition) int { return strings.Compare(x.Metric, y.Metric) })
	if len(p.Attest) > 0 && len(p.Validators) == 0 {
		return nil, errors.New("attestation conditions without validators: no attestation could count")
	}
	return p, unknown(fields)
}

// CheckBranch checks a policy's branch: a short branch name whose full
// name refs/heads/NAME is a valid ref name (design §9).
func CheckBranch(b string) error {
	if b == "" || len(b) > 255 || strings.HasPrefix(b, "refs/") {
		return fmt.Errorf("branch %q: want a short branch name such as main", b)
	}
	for _, bad := range []string{"..", "//", "@{", "\\", " ", "~", "^", ":", "?", "*", "["} {
		if strings.Contains(b, bad) {
			return fmt.Errorf("branch %q: contains %q", b, bad)
		}
	}
	for _, part := range strings.Split(b, "/") {
		if part == "" || part[0] == '.' || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("branch %q: not a valid branch name", b)
		}
	}
	for _, r := range b {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("branch %q: control character", b)
		}
	}
	if strings.HasSuffix(b, ".") || b == "@" {
		return fmt.Errorf("branch %q: not a valid branch name", b)
	}
	return nil
}

// CheckLabel checks a name map's label: 1 to 128 bytes of UTF-8 text
// without control characters.
func CheckLabel(s string) error {
	if s == "" || len(s) > MaxName || !utf8.ValidString(s) {
		return fmt.Errorf("name %q: want 1 to %d bytes of text", s, MaxName)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("name %q: control character", s)
		}
	}
	return nil
}

func parseNames(h Head, fields map[string]string) (Record, error) {
	n := &Names{Head: h, Labels: map[objects.PublicKey]string{}}
	if len(fields) > MaxNames {
		return nil, fmt.Errorf("%d names (at most %d)", len(fields), MaxNames)
	}
	for k, v := range fields {
		ks, ok := strings.CutPrefix(k, NamesPrefix)
		if !ok {
			continue
		}
		key, err := objects.ParsePublicKey(ks)
		if err != nil || key.String() != ks {
			return nil, fmt.Errorf("%q does not name a key", k)
		}
		if err := CheckLabel(v); err != nil {
			return nil, fmt.Errorf("%s: %w", ks, err)
		}
		n.Labels[key] = v
		delete(fields, k)
	}
	return n, unknown(fields)
}
