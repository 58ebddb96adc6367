package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotRepo     = 3
	exitConflict    = 4
	exitInterrupted = 130
)

// usageError reports a command line that does not make sense.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// hintError attaches advice to an error: what to run next.
type hintError struct {
	err   error
	hints []string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hints: hints}
}

// exitError ends fed with a code and a message, for results that are
// failures without being errors of an operation (fsck found problems).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// report prints err (if any) and returns the exit code it means. It is
// the only place where errors become messages and exit codes.
func report(ctx context.Context, stderr io.Writer, err error) int {
	var done *exitError
	if err == nil || errors.As(err, &done) && done.code == exitOK {
		return exitOK // (an exitError with code 0 ends a command that printed its result)
	}
	code, hints := classify(ctx, err)
	switch {
	case code == exitInterrupted && err.Error() == context.Canceled.Error():
		fmt.Fprintln(stderr, "fed: interrupted")
	case code == exitInterrupted:
		fmt.Fprintf(stderr, "fed: interrupted: %s\n", message(err))
	default:
		fmt.Fprintf(stderr, "fed: error: %s\n", message(err))
	}
	for _, h := range hints {
		fmt.Fprintf(stderr, "fed: hint: %s\n", h)
	}
	return code
}

// packagePrefix matches the package prefixes of the libraries' sentinel
// errors ("repo: unknown revision"): they name the code, not what the user
// did, so messages drop them. Format packages (safetensors, onnx, …) and
// remote, whose messages concern the server, keep theirs.
var packagePrefix = regexp.MustCompile(`(^|: )(?:repo|merge|refs|objects|codec|zk|nft): `)

// message is err's text as fed prints it: without package prefixes, and
// without a part that the next part repeats ("unknown strategy: unknown
// strategy \"x\"" reads "unknown strategy \"x\"").
func message(err error) string { return messageText(err.Error()) }

// messageText is message for an error's text.
func messageText(s string) string {
	s = packagePrefix.ReplaceAllString(s, "$1")
	s = packagePrefix.ReplaceAllString(s, "$1") // "repo: merge: …"
	parts := strings.Split(s, ": ")
	out := parts[:0]
	for i, p := range parts {
		if i+1 < len(parts) && p != "" && strings.HasPrefix(parts[i+1], p) {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// goFlagName matches a flag as Go's flag package names it in its errors,
// with one dash ("flag provided but not defined: -all").
var goFlagName = regexp.MustCompile(`(defined: |argument: |for flag |for )-([A-Za-z0-9][A-Za-z0-9-]+)\b`)

// flagMessage rewrites Go's flag errors to name a long flag as the user
// typed it (args): --all, not -all.
func flagMessage(s string, args []string) string {
	return goFlagName.ReplaceAllStringFunc(s, func(m string) string {
		sub := goFlagName.FindStringSubmatch(m)
		for _, a := range args {
			if a == "--"+sub[2] || strings.HasPrefix(a, "--"+sub[2]+"=") {
				return sub[1] + "--" + sub[2]
			}
		}
		return m
	})
}

func classify(ctx context.Context, err error) (int, []string) {
	var hints []string
	var he *hintError
	if errors.As(err, &he) {
		hints = append(hints, he.hints...)
	}
	var ue *usageError
	var ee *exitError
	var keyFile *zk.KeyFileError
	var dirty *repo.DirtyError
	var solanaKey *repo.KeypairFileError
	var noKeys *zk.NoKeysError
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return exitInterrupted, hints
	case errors.As(err, &ue):
		if ue.hint != "" {
			hints = append(hints, ue.hint)
		}
		return exitUsage, append(hints, "see 'fed --help' or 'fed COMMAND --help'")
	case errors.As(err, &ee):
		return ee.code, hints
	case errors.Is(err, repo.ErrNotRepo):
		return exitNotRepo, append(hints, "run 'fed init' to create a repository here, or use -C DIR")
	case errors.As(err, &dirty) && strings.HasPrefix(dirty.Op, "stash"):
		return exitConflict, append(hints, "commit those changes, or discard them with 'fed restore PATH', then apply the stash")
	case errors.Is(err, repo.ErrDirty):
		return exitConflict, append(hints, "commit your changes first, or use --force to discard them")
	case errors.Is(err, repo.ErrConflict):
		if len(hints) > 0 {
			return exitConflict, hints
		}
		return exitConflict, append(hints, "resolve the conflicts, 'fed add' the files, then 'fed commit'; or 'fed reset --hard HEAD' to give up")
	case errors.Is(err, refs.ErrStale):
		return exitConflict, append(hints, "another fed command changed the ref meanwhile; check 'fed log' and try again")
	case errors.Is(err, repo.ErrNoKey):
		return exitFailure, append(hints,
			"create a signing key with 'fed keygen' (writes ~/.config/solana/id.json)",
			"or name an existing solana-keygen file with --keypair FILE, $FED_KEYPAIR or 'fed config --global user.keypair FILE'")
	case errors.As(err, &solanaKey):
		return exitFailure, append(hints,
			fmt.Sprintf("keep keys outside the working tree: move %s away (e.g. to ~/.config/solana/) and name it with --keypair, $FED_KEYPAIR or 'fed config user.keypair ABSOLUTE-PATH'", solanaKey.Path),
			"add '"+solanaKey.Path+"' to .fedignore so that 'fed add .' skips it; 'fed add --force' adds it anyway")
	case errors.Is(err, repo.ErrNothingToCommit):
		return exitFailure, append(hints, "stage changes with 'fed add PATH...', or commit every tracked change with 'fed commit -a'")
	case errors.Is(err, repo.ErrUnknownRev):
		return exitFailure, append(hints, "list names with 'fed branch', 'fed tag' and ids with 'fed log --oneline'")
	case errors.Is(err, refs.ErrLocked):
		return exitFailure, append(hints, "another fed command is running in this repository; wait for it to finish")
	case errors.Is(err, objects.ErrBadSignature):
		return exitFailure, hints
	case errors.As(err, &keyFile):
		stem := strings.TrimSuffix(strings.TrimSuffix(keyFile.Path, ".pk"), ".vk")
		return exitFailure, append(hints, fmt.Sprintf("delete the pair %s.pk and %s.vk and make the keys again ('fed zk setup', or 'fed zk import' for ceremony keys); proofs already attached keep verifying with their own verifying key", stem, stem))
	case errors.As(err, &noKeys):
		return exitFailure, append(hints, fmt.Sprintf("make development keys for it with '%s' (or 'fed prove --setup': the keys each commit needs), or import ceremony keys with 'fed zk import --shape %s'", setupCommand(noKeys.Shape), noKeys.Shape))
	case errors.Is(err, zk.ErrNoKeys):
		return exitFailure, append(hints, "make development keys with 'fed zk setup' or 'fed prove --setup', or import ceremony keys with 'fed zk import'")
	case errors.Is(err, zk.ErrBound):
		return exitFailure, append(hints, "an update beyond zk.linf (largest change of one weight) or zk.l2 (squared L2 norm) cannot be proven; see 'fed diff --stat HEAD~1 HEAD'")
	case errors.Is(err, zk.ErrRange):
		return exitFailure, append(hints, "proofs cover finite weights with |x| < 8192; models beyond that cannot be committed to while zk.* settings are on")
	case errors.Is(err, merge.ErrRange):
		return exitFailure, append(hints, "an exact (provable) merge stores the fixed-point mean bit for bit: F32 values must stay below 256 in magnitude, F16/BF16 rarely fit; merge without --prove")
	}
	return exitFailure, hints
}

// setupCommand is the command that makes development keys of shape: a
// merge's sides are its parents, HEAD included.
func setupCommand(s zk.Shape) string {
	cmd := "fed zk setup"
	switch s.Kind {
	case zk.KindCommit:
		cmd += " --kind commit"
	case zk.KindUpdate:
		cmd += " --kind update"
	case zk.KindMerge:
		cmd += fmt.Sprintf(" --kind merge --sides %d", s.K)
		if s.WBits > 8 { // the default total weight, 256, needs 8 bits
			cmd += fmt.Sprintf(" --total-weight %d", uint64(1)<<s.WBits)
		}
	}
	if s.N != 8192 {
		cmd += fmt.Sprintf(" --chunk %d", s.N)
	}
	return cmd
}
