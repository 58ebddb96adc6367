package remote

import (
	"fmt"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// LoginStatement is the statement line of every login challenge.
const LoginStatement = "Sign in to fed to push to and read repositories on this server."

// TimeFormat is how the protocol writes times inside signed texts:
// RFC 3339 in UTC with whole seconds.
const TimeFormat = "2006-01-02T15:04:05Z"

// SignInMessage is the Sign-In-With-Solana text a login signs:
//
//	{domain} wants you to sign in with your Solana account:
//	{address}
//
//	{statement}
//
//	URI: {uri}
//	Version: 1
//	Chain ID: {chain}
//	Nonce: {nonce}
//	Issued At: {issued}
//
// with no trailing newline; the signature is plain ed25519 over its
// UTF-8 bytes.
type SignInMessage struct {
	Domain   string // host[:port] of the server
	Address  string // base58 public key
	URI      string // e.g. http://127.0.0.1:8080
	ChainID  string // e.g. mainnet
	Nonce    string
	IssuedAt time.Time
}

// String returns the message text.
func (m SignInMessage) String() string {
	return fmt.Sprintf("%s wants you to sign in with your Solana account:\n%s\n\n%s\n\nURI: %s\nVersion: 1\nChain ID: %s\nNonce: %s\nIssued At: %s",
		m.Domain, m.Address, LoginStatement, m.URI, m.ChainID, m.Nonce, m.IssuedAt.UTC().Format(TimeFormat))
}

// ParseSignInMessage parses a message built by SignInMessage.String,
// requiring the exact layout (and fed's statement).
func ParseSignInMessage(s string) (SignInMessage, error) {
	var m SignInMessage
	lines := strings.Split(s, "\n")
	if len(lines) != 10 || lines[2] != "" || lines[4] != "" || lines[3] != LoginStatement || lines[6] != "Version: 1" {
		return m, fmt.Errorf("%w: not a fed sign-in message", ErrBadRequest)
	}
	const head = " wants you to sign in with your Solana account:"
	if !strings.HasSuffix(lines[0], head) {
		return m, fmt.Errorf("%w: sign-in message: bad first line", ErrBadRequest)
	}
	m.Domain = strings.TrimSuffix(lines[0], head)
	m.Address = lines[1]
	field := func(line, name string) (string, error) {
		v, ok := strings.CutPrefix(line, name+": ")
		if !ok {
			return "", fmt.Errorf("%w: sign-in message: want %q line", ErrBadRequest, name)
		}
		return v, nil
	}
	var err error
	if m.URI, err = field(lines[5], "URI"); err != nil {
		return m, err
	}
	if m.ChainID, err = field(lines[7], "Chain ID"); err != nil {
		return m, err
	}
	if m.Nonce, err = field(lines[8], "Nonce"); err != nil {
		return m, err
	}
	issued, err := field(lines[9], "Issued At")
	if err != nil {
		return m, err
	}
	if m.IssuedAt, err = time.Parse(TimeFormat, issued); err != nil {
		return m, fmt.Errorf("%w: sign-in message: issued at: %v", ErrBadRequest, err)
	}
	if m.String() != s {
		return m, fmt.Errorf("%w: sign-in message not in canonical form", ErrBadRequest)
	}
	return m, nil
}

// Statement returns the text a pusher signs for a ref update:
//
//	fed push v1
//	repository: {repo}
//	server: {host}
//	pusher: {base58 key}
//	time: {RFC 3339 UTC}
//	update {name} {old hex} {new hex}[ force]
//	...
//
// one "update" line per update in request order, every line ending in
// "\n". Zero ids are written as 64 zeros.
func Statement(repo, host string, pusher objects.PublicKey, at time.Time, updates []RefUpdate) string {
	return StatementWithheld(repo, host, pusher, at, updates, nil)
}

// StatementWithheld is Statement for a request that also names withheld
// objects (UpdateRequest.Withheld): after the update lines, one line
//
//	withhold {id hex}
//
// per withheld id in request order. Without withheld ids it is Statement.
func StatementWithheld(repo, host string, pusher objects.PublicKey, at time.Time, updates []RefUpdate, withheld []objects.ID) string {
	return StatementPrivate(repo, host, pusher, at, updates, withheld, nil)
}

// StatementPrivate is StatementWithheld for a request that also marks
// objects private to the server (UpdateRequest.Private): after the
// withhold lines, one line
//
//	private {id hex}
//
// per marked id in request order. Without marks it is StatementWithheld.
func StatementPrivate(repo, host string, pusher objects.PublicKey, at time.Time, updates []RefUpdate, withheld, private []objects.ID) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fed push v1\nrepository: %s\nserver: %s\npusher: %s\ntime: %s\n", repo, host, pusher, at.UTC().Format(TimeFormat))
	for _, u := range updates {
		fmt.Fprintf(&b, "update %s %s %s", u.Name, u.Old, u.New)
		if u.Force {
			b.WriteString(" force")
		}
		b.WriteByte('\n')
	}
	for _, id := range withheld {
		fmt.Fprintf(&b, "withhold %s\n", id)
	}
	for _, id := range private {
		fmt.Fprintf(&b, "private %s\n", id)
	}
	return b.String()
}
