package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fed-vcs/fed/internal/ui"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// env is what every command gets: the global flags and the streams.
type env struct {
	dir        string // -C
	keypair    string // --keypair
	quiet      bool
	noProgress bool

	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	args           []string // the command line, without the program name
	// label names a key in output (the name map of governance, doc/design.md
	// §19); nil: the key itself
	label func(objects.PublicKey) string
}

// keyName names k as e.label says, else by the key.
func (e *env) keyName(k objects.PublicKey) string {
	if e.label != nil {
		return e.label(k)
	}
	return k.String()
}

// path resolves a path given on the command line against -C.
func (e *env) path(p string) string {
	if filepath.IsAbs(p) || e.dir == "" {
		return p
	}
	return filepath.Join(e.dir, p)
}

// workdir is the directory fed runs in (-C, else the process's).
func (e *env) workdir() string {
	if e.dir == "" {
		return "."
	}
	return e.dir
}

// openRepo opens the repository containing the working directory, with
// a progress bar unless output is JSON, quiet, or stderr is no terminal.
func (e *env) openRepo(jsonOut bool) (*repo.Repo, error) {
	r, err := repo.OpenWith(e.workdir(), e.repoOptions())
	if err != nil {
		return nil, err
	}
	r.Progress = e.progress(jsonOut)
	r.Warn = func(msg string) { e.note("fed: warning: %s\n", msg) }
	proving.RecordRoots(r) // commits of a repository with zk settings record zk.root
	return r, nil
}

// repoOptions are what repo learns of the environment.
func (e *env) repoOptions() repo.Options { return repo.Options{UserConfig: e.userConfigPath()} }

// userConfigPath is the user's config file: $FED_CONFIG, else
// $XDG_CONFIG_HOME/fed/config, else ~/.config/fed/config.
func (e *env) userConfigPath() string {
	if p := e.getenv("FED_CONFIG"); p != "" {
		return p
	}
	if x := e.getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "fed", "config")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "fed", "config")
}

// solanaCLIConfigPath is the Solana CLI's config file
// (~/.config/solana/cli/config.yml; "" without a home directory).
func solanaCLIConfigPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "solana", "cli", "config.yml")
}

// zkCache is the proving and verifying key cache: $FED_ZK_CACHE, else
// <user cache dir>/fed/zk.
func (e *env) zkCache() (*zk.Cache, error) {
	if d := e.getenv("FED_ZK_CACHE"); d != "" {
		return zk.NewCache(expandHome(d)), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("zk: key cache: %w", err)
	}
	return zk.NewCache(filepath.Join(d, "fed", "zk")), nil
}

func (e *env) progress(jsonOut bool) *ui.Progress {
	on := !jsonOut && !e.quiet && !e.noProgress && ui.IsTerminal(e.stderr)
	return ui.NewProgress(e.stderr, on)
}

// keyPath finds the signing key's file: --keypair, then $FED_KEYPAIR,
// then config user.keypair, then the Solana CLI default. explicit reports
// whether the user named it (a missing default is not an error).
func (e *env) keyPath(cfg *repo.Config) (path string, explicit bool) {
	if e.keypair != "" {
		return e.path(e.keypair), true
	}
	if p := e.getenv("FED_KEYPAIR"); p != "" {
		return expandHome(p), true
	}
	if cfg != nil {
		if p, ok := cfg.Get("user.keypair"); ok && p != "" {
			return expandHome(p), true
		}
	}
	return defaultKeyPath(), false
}

// loadKey sets r.Key from the key file, when there is one. A key file the
// user named must exist; the default one may be missing (operations that
// need a key then fail with repo.ErrNoKey).
func (e *env) loadKey(r *repo.Repo) error {
	p, explicit := e.keyPath(r.Config)
	k, err := objects.LoadKeypair(p)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return withHint(fmt.Errorf("load signing key %s: %w", p, err), keyHint(p, e.workdir(), r.Root))
	}
	r.Key = k
	return nil
}

// keyHint tells how to get the key file p (relative to wd) that could
// not be loaded.
// It never suggests making a key inside the working tree root, where
// 'fed add .' would find it (and refuse it).
func keyHint(p, wd, root string) string {
	abs := p
	if !filepath.IsAbs(abs) {
		abs, _ = filepath.Abs(filepath.Join(wd, p))
	}
	if rel, err := filepath.Rel(root, abs); root != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "keys belong outside the working tree: make one with 'fed keygen ~/keys/NAME.json' and name it with --keypair ~/keys/NAME.json or 'fed config user.keypair ~/keys/NAME.json' (a path relative to where fed runs, or absolute)"
	}
	return "create a key with 'fed keygen " + p + "'"
}

// defaultKeyPath is the Solana CLI's default keypair file.
func defaultKeyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".config", "solana", "id.json")
	}
	return filepath.Join(home, ".config", "solana", "id.json")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// note prints advice or a status message on stderr, unless --quiet.
func (e *env) note(format string, args ...any) {
	if !e.quiet {
		fmt.Fprintf(e.stderr, format, args...)
	}
}

// printJSON writes v as indented JSON on stdout.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// splitDashDash splits a command's arguments at the first "--".
func splitDashDash(args []string) (before, after []string, dash bool) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:], true
		}
	}
	return args, nil, false
}

// subject is the first line of a commit message.
func subject(msg string) string {
	s, _, _ := strings.Cut(msg, "\n")
	return s
}

// printf prints a result on stdout.
func (e *env) printf(format string, args ...any) {
	fmt.Fprintf(e.stdout, format, args...)
}

// paths resolves command-line paths against -C.
func (e *env) paths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = e.path(p)
	}
	return out
}

// splitDashDashAll returns the arguments with a "--" removed, for commands
// that take only paths.
func splitDashDashAll(args []string) (before, all []string, dash bool) {
	b, a, d := splitDashDash(args)
	return b, append(append([]string{}, b...), a...), d
}

// status prints what a command did, such as "HEAD is now at …", on
// stdout (as git does), unless --quiet.
func (e *env) status(format string, args ...any) {
	if !e.quiet {
		fmt.Fprintf(e.stdout, format, args...)
	}
}

// hint prints an advice line of a result listing on stdout (like git's
// status hints), unless --quiet.
func (e *env) hint(s string) {
	if !e.quiet {
		fmt.Fprint(e.stdout, s)
	}
}
