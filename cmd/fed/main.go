package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// FED_CPUPROFILE=FILE writes a CPU profile of the command (for
	// developers measuring fed; see `make bench`).
	if p := os.Getenv("FED_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
			}
		}
	}
	// FED_PPROF=127.0.0.1:PORT serves the runtime's profiles, blocking
	// and mutex contention included, on that loopback address (for
	// developers measuring fed serve; bench/serve -profile).
	if a := os.Getenv("FED_PPROF"); a != "" {
		addr, _, err := startDebugProfiles(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fed:", err)
			os.Exit(exitUsage)
		}
		fmt.Fprintf(os.Stderr, "fed: profiles on http://%s/debug/pprof/\n", addr)
	}
	// fed streams models piece by piece; a soft memory limit keeps the
	// garbage of decoded pieces from inflating the process (GOMEMLIMIT
	// overrides it). Proving holds circuits and keys of up to ~1.4 GB
	// live: commands that may prove get a limit above that, which still
	// keeps a multi-chunk merge proof under 2 GB.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(os.Args[1:]))
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	// FED_STATS=FILE writes counters of the run, "name value" lines (for
	// developers measuring fed: bench/tensors counts goroutines).
	if p := os.Getenv("FED_STATS"); p != "" {
		writeStats(p)
	}
	stop()
	os.Exit(code)
}

// memoryLimit is the soft memory limit of a command line: 256 MiB, and
// 384 MiB for a merge, which holds a few pieces of every side at once
// (under a tighter limit the runtime keeps returning memory to the system
// and faulting it back in: about a sixth of a 4-way merge's time).
func memoryLimit(args []string) int64 {
	if mayProve(args) {
		return proveMemoryLimit
	}
	for _, a := range args {
		if a == "merge" || a == "pull" {
			return 384 << 20
		}
	}
	return 256 << 20
}

// mayProve reports whether a command line may build zero-knowledge
// proofs (or set up their keys): prove, zk, verify, serve (--prove), or
// any command given --prove.
func mayProve(args []string) bool {
	for _, a := range args {
		switch a {
		case "prove", "zk", "verify", "serve", "--prove":
			return true
		}
	}
	return false
}

// proveMemoryLimit is the soft memory limit while proving.
const proveMemoryLimit = 1792 << 20

// useProveMemoryLimit sets proving's soft memory limit before a command
// proves (see main), unless the user set GOMEMLIMIT.
func useProveMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(proveMemoryLimit)
	}
}

// run runs fed with args (without the program name) and returns the exit
// code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, args: args}
	app := newApp(e)
	err := app.RunContext(ctx, append([]string{"fed"}, reorderArgs(app, args)...))
	return report(ctx, stderr, err)
}

// newApp builds the command tree.
func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:                      "fed",
		Usage:                     "version control for ML models",
		UsageText:                 "fed [global options] command [command options] [arguments...]",
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		Reader:                    e.stdin,
		HideVersion:               true,
		HideHelpCommand:           false,
		DisableSliceFlagSeparator: true,
		UseShortOptionHandling:    true,
		ExitErrHandler:            func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "C", Usage: "run as if fed was started in `DIR`"},
			&cli.StringFlag{Name: "keypair", Usage: "signing key: a solana-keygen JSON `FILE` (default: $FED_KEYPAIR, config user.keypair, ~/.config/solana/id.json)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print results only: no progress, advice or notes"},
			&cli.BoolFlag{Name: "no-progress", Usage: "do not draw progress bars"},
			&cli.BoolFlag{Name: "version", Usage: "print fed's version (as 'fed version')"},
		},
		Before: func(c *cli.Context) error {
			e.dir = c.String("C")
			e.keypair = c.String("keypair")
			e.quiet = c.Bool("quiet")
			e.noProgress = c.Bool("no-progress")
			if c.Bool("version") {
				// as git --version: the version, whatever follows
				if err := runVersion(c.Context, e); err != nil {
					return err
				}
				return &exitError{code: exitOK}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("unknown command %q", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		OnUsageError: e.onUsageError,
		Commands: []*cli.Command{
			newInitCommand(e),
			newAddCommand(e),
			newRmCommand(e),
			newStatusCommand(e),
			newCommitCommand(e),
			newLogCommand(e),
			newReflogCommand(e),
			newShowCommand(e),
			newDiffCommand(e),
			newBranchCommand(e),
			newSwitchCommand(e),
			newCheckoutCommand(e),
			newRestoreCommand(e),
			newTagCommand(e),
			newResetCommand(e),
			newStashCommand(e),
			newRevertCommand(e),
			newMergeCommand(e),
			newFsckCommand(e),
			newGCCommand(e),
			newConfigCommand(e),
			newKeygenCommand(e),
			newNFTCommand(e),
			newAnchorCommand(e),
			newVersionCommand(e),
			newRemoteCommand(e),
			newPushCommand(e),
			newFetchCommand(e),
			newPullCommand(e),
			newCloneCommand(e),
			newServeCommand(e),
			newCollabCommand(e),
			newPolicyCommand(e),
			newReviewCommand(e),
			newAttestCommand(e),
			newContributorsCommand(e),
			newProveCommand(e),
			newVerifyCommand(e),
			newZKCommand(e),
			newCompletionCommand(e),
		},
	}
	app.Commands = append(app.Commands, newCompleteCommand(e, func() *cli.App { return app }))
	groupCommands(app)
	for _, c := range app.Commands {
		c.OnUsageError = e.onUsageError
		c.UseShortOptionHandling = true
	}
	return app
}

func (e *env) onUsageError(c *cli.Context, err error, _ bool) error {
	return &usageError{msg: flagMessage(err.Error(), e.args)}
}

// writeStats writes the runtime's count of goroutines created to path
// (FED_STATS); a failure is ignored, as FED_CPUPROFILE's is.
func writeStats(path string) {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	_ = os.WriteFile(path, fmt.Appendf(nil, "goroutines-created %d\n", s[0].Value.Uint64()), 0o644)
}
