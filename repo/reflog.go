package repo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// movePrefix starts the reflog message of HEAD's moves by switch and
// checkout: "checkout: moving from <branch or id> to <branch or rev>", as
// git writes it; @{-N} reads the names back.
const movePrefix = "checkout: moving from "

// moveEntry is the reflog entry of HEAD moving away from where it is now
// (the current branch's short name, or the detached id) to to.
func (r *Repo) moveEntry(to string) refs.Entry {
	from := ""
	if h, cur, err := r.Head(); err == nil {
		from = h.String()
		if cur != "" {
			from = cur.Short()
		}
	}
	return r.entry(movePrefix + from + " to " + to)
}

// Reflog returns the reflog of ref (HEAD, a full ref name, or a short name
// as ResolveRef takes it), newest first, and the full name it read.
func (r *Repo) Reflog(name string) (refs.Name, []refs.LogEntry, error) {
	full := refs.Name("HEAD")
	if name != "" && name != "HEAD" && name != "@" {
		n, _, err := r.ResolveRef(name)
		if err != nil {
			return "", nil, err
		}
		full = n
	}
	entries, err := r.Refs.Reflog(full)
	if err != nil {
		return "", nil, err
	}
	slices.Reverse(entries)
	return full, entries, nil
}

// PreviousCheckout returns where HEAD was before its n-th last move by
// switch or checkout (git's @{-n}): a branch's short name, or a commit
// id in hex when HEAD was detached.
func (r *Repo) PreviousCheckout(n int) (string, error) {
	if n < 1 {
		return "", fmt.Errorf("%w: @{-%d}", ErrUnknownRev, n)
	}
	_, entries, err := r.Reflog("HEAD")
	if err != nil {
		return "", err
	}
	want := n
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Message, movePrefix)
		if !ok {
			continue
		}
		if n--; n > 0 {
			continue
		}
		from, _, ok := strings.Cut(rest, " to ")
		if !ok || from == "" {
			break
		}
		return from, nil
	}
	if want == 1 {
		return "", fmt.Errorf("%w: @{-1}: no previous branch (HEAD's reflog records no switch or checkout)", ErrUnknownRev)
	}
	return "", fmt.Errorf("%w: @{-%d}: HEAD's reflog records fewer than %d switches or checkouts", ErrUnknownRev, want, want)
}

// resolveReflog resolves the @{...} forms of a revision's base: @{-N}
// (the N-th previous checkout), and NAME@{N} or @{N} (the value NAME, or
// HEAD, had N moves ago: @{0} is its value now). ok is false when base
// has no @{.
func (r *Repo) resolveReflog(base string) (id objects.ID, ok bool, err error) {
	i := strings.Index(base, "@{")
	if i < 0 || !strings.HasSuffix(base, "}") {
		return objects.ZeroID, false, nil
	}
	name, arg := base[:i], base[i+2:len(base)-1]
	n, err := strconv.Atoi(arg)
	if err != nil {
		return objects.ZeroID, true, fmt.Errorf("%w: %s: want @{N} or @{-N}, a number of moves (dates are not supported)", ErrUnknownRev, base)
	}
	if n < 0 {
		if name != "" {
			return objects.ZeroID, true, fmt.Errorf("%w: %s: @{-N} stands alone", ErrUnknownRev, base)
		}
		prev, err := r.PreviousCheckout(-n)
		if err != nil {
			return objects.ZeroID, true, err
		}
		if _, id, err := r.ResolveRef(prev); err == nil {
			return id, true, nil
		}
		id, err := objects.ParseID(prev)
		if err != nil {
			return objects.ZeroID, true, fmt.Errorf("%w: %s: %s", ErrUnknownRev, base, prev)
		}
		return id, true, nil
	}
	if name == "stash" {
		s, err := r.stashEntry(context.Background(), n)
		if err != nil {
			return objects.ZeroID, true, fmt.Errorf("%w: %w", ErrUnknownRev, err)
		}
		return s.ID, true, nil
	}
	full, entries, err := r.Reflog(name)
	if err != nil {
		return objects.ZeroID, true, err
	}
	if n >= len(entries) {
		return objects.ZeroID, true, fmt.Errorf("%w: %s: the reflog of %s has only %d entries", ErrUnknownRev, base, full.Short(), len(entries))
	}
	id = entries[n].New
	if id.IsZero() {
		return objects.ZeroID, true, fmt.Errorf("%w: %s: %s did not exist then", ErrUnknownRev, base, full.Short())
	}
	return id, true, nil
}
