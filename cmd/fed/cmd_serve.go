package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
	"github.com/fed-vcs/fed/webui"
)

type serveOptions struct {
	root, addr, domain, addrFile string
	publicURL                    string
	noCreate, private            bool
	gcGrace                      time.Duration
	gcOnce                       bool
	solanaRPC                    string
	nftCacheTTL                  time.Duration
	requireProofs                bool
	prove, proveSetup            bool
	parent                       int
	logFormat, logLevel          string
	tlsCert, tlsKey              string
	insecureHTTP                 bool
	shutdownTimeout              time.Duration
	db                           string
	migrate                      bool
	objects                      *s3Objects // --objects s3://…: nil keeps objects under --root
}

func newServeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "host repositories for push, fetch and clone",
		Description: "Serves every repository under --root over HTTP until interrupted. Users push with\n" +
			"their Solana keys; the first push to a new repository name creates it, owned by the\n" +
			"pusher. Beyond localhost it serves HTTPS with --tls-cert and --tls-key (reread on\n" +
			"SIGHUP), or plain HTTP with --insecure-http behind a TLS reverse proxy. GET /healthz,\n" +
			"/readyz and /metrics (Prometheus) answer on the same address; every request is\n" +
			"logged on stderr (--log-format). On SIGTERM or SIGINT it stops accepting and lets\n" +
			"requests in flight finish for up to --shutdown-timeout.\n\n" +
			"With --solana-rpc, a repository's owner may link it to its repository NFT ('fed nft\n" +
			"link'); from then on its owner is whoever holds that NFT now, as the node at URL\n" +
			"says (answers are cached for --nft-cache-ttl). When the node cannot be asked, owner\n" +
			"checks fail closed (503, clients retry). Use a node you trust.\n\n" +
			"With --prove, the server proves in the background, one commit at a time, the commits\n" +
			"pushed to branches and tags without a proof, and attaches each proof under\n" +
			"refs/proofs/<commit> of that repository, where the next fetch finds it. It proves a\n" +
			"repository only when it knows its zk settings (zk.chunk, zk.linf, zk.l2), which its\n" +
			"owner sets (fed config --remote REMOTE zk.linf BOUND) and the server keeps in\n" +
			"<root>/<repository>.fed/config (the format of .fed/config, which the server's\n" +
			"administrator may edit), or with --db in the database. Keys come from the key cache\n" +
			"($FED_ZK_CACHE); --prove-setup makes development keys for shapes it lacks. Commits\n" +
			"whose weights were withheld (push --private-weights) are never proven here; their\n" +
			"pushers proved them. With --db the proving queue is the database's: any replica\n" +
			"takes the next job, and a job a replica took and did not finish goes back to the\n" +
			"queue when that replica stops or dies.\n\n" +
			"The server verifies every proof pushed to it with the repository's keys and settings\n" +
			"and refuses those that fail. With --require-proofs, new commits on protected branches\n" +
			"need a valid proof, and an update proof is refused while the repository has no\n" +
			"zk.linf (its owner sets it: fed config --remote REMOTE zk.linf BOUND).\n\n" +
			"With --db URL, the refs, ref logs, settings, collaborators, push logs and sign-in\n" +
			"sessions live in that PostgreSQL database (15 or later) instead of under --root, which\n" +
			"keeps only the objects: several fed serve processes (replicas) on one database and one\n" +
			"--root directory serve the same repositories behind any load balancer; a token issued\n" +
			"by one works at all, a push's ref updates are one transaction. On start the server\n" +
			"applies the database's schema migrations (under a lock); --migrate applies them and\n" +
			"exits. The driver also reads PGPASSWORD and ~/.pgpass. While the database cannot be\n" +
			"reached, requests answer 503 and clients retry.\n\n" +
			"With --objects s3://BUCKET/PREFIX and --s3-endpoint URL, the repositories' objects\n" +
			"live in that S3-compatible bucket, repository NAME under PREFIX/NAME.fed/objects/,\n" +
			"signed in with $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (and $AWS_SESSION_TOKEN)\n" +
			"in region $AWS_REGION; --root then keeps only refs and settings (none with --db).\n" +
			"With --db too, pushes lease the objects they rely on in the database, so that any\n" +
			"replica may collect the bucket.\n" +
			"With both, replicas share nothing on disk.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "`DIR` holding the repositories (required)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8417", Usage: "listen on `HOST:PORT` (port 0: any free port)"},
			&cli.StringFlag{Name: "domain", Usage: "host name clients use, for sign-in messages (default: each request's Host)"},
			&cli.StringFlag{Name: "public-url", Usage: "the `URL` visitors reach the server by (https://fed.example.org behind a reverse proxy): absolute URLs in web pages and NFT metadata start with it, and a page's wallet sign-in must come from it (default: each request's scheme and Host)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the address listened on to `FILE`"},
			&cli.BoolFlag{Name: "no-create", Usage: "do not create repositories on a first push"},
			&cli.BoolFlag{Name: "private", Usage: "make new repositories private"},
			&cli.DurationFlag{Name: "gc-grace", Usage: "collect unreferenced uploads older than `DURATION`", DefaultText: "24h"},
			&cli.BoolFlag{Name: "gc", Usage: "collect every repository once (what the server does every hour), print what was removed, then exit; with --db it may run beside the replicas"},
			&cli.StringFlag{Name: "solana-rpc", Usage: "Solana JSON-RPC node `URL` that says who holds repository NFTs (off when empty)"},
			&cli.BoolFlag{Name: "require-proofs", Usage: "refuse pushes to protected branches of commits without a valid zero-knowledge proof, and update proofs of repositories without zk.linf"},
			&cli.BoolFlag{Name: "prove", Usage: "prove pushed commits that have no proof, in the background (repositories with zk settings)"},
			&cli.BoolFlag{Name: "prove-setup", Usage: "with --prove, make development keys for circuit shapes the key cache lacks"},
			&cli.DurationFlag{Name: "nft-cache-ttl", Value: nft.DefaultHolderTTL, Usage: "how long an NFT's holder is trusted before asking again"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with the PEM certificate (chain) in `FILE`, reread on SIGHUP"},
			&cli.StringFlag{Name: "tls-key", Usage: "the PEM private key of --tls-cert in `FILE`, reread on SIGHUP"},
			&cli.BoolFlag{Name: "insecure-http", Usage: "allow plain HTTP on an address beyond localhost (behind a TLS reverse proxy)"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM, wait up to `DURATION` for requests in flight"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log every request and event on stderr as `FORMAT`: text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log records of `LEVEL` and above: debug (also health checks and metric scrapes), info, warn or error"},
			&cli.StringFlag{Name: "db", Usage: "keep refs, ref logs, repository settings and sign-in sessions in the PostgreSQL database at `URL` (postgres://USER@HOST:PORT/DB), shared by every replica on it; objects stay under --root"},
			&cli.BoolFlag{Name: "migrate", Usage: "bring the schema of the --db database up to date, then exit"},
			&cli.StringFlag{Name: "objects", Usage: "keep the repositories' objects in S3-compatible storage at `s3://BUCKET/PREFIX` (with --s3-endpoint)"},
			&cli.StringFlag{Name: "s3-endpoint", Usage: "`URL` of the S3 service of --objects (https://s3.REGION.amazonaws.com, http://127.0.0.1:7070)"},
			&cli.IntFlag{Name: "parent", Usage: "stop when process `PID` has exited (scripts and tests start fed serve with --parent $$, so it never outlives them)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("serve takes no arguments")
			}
			if c.Bool("migrate") && c.String("db") == "" {
				return usageErrorf("--migrate needs --db URL")
			}
			if c.String("root") == "" && !c.Bool("migrate") {
				return usageErrorf("serve needs --root DIR")
			}
			if c.Duration("nft-cache-ttl") <= 0 {
				return usageErrorf("--nft-cache-ttl must be positive")
			}
			if c.IsSet("nft-cache-ttl") && c.String("solana-rpc") == "" {
				return usageErrorf("--nft-cache-ttl needs --solana-rpc URL")
			}
			if c.Bool("prove-setup") && !c.Bool("prove") {
				return usageErrorf("--prove-setup needs --prove")
			}
			var objs *s3Objects
			if c.String("objects") != "" {
				var err error
				if objs, err = newS3Objects(c.String("objects"), c.String("s3-endpoint"), e); err != nil {
					return err
				}
			} else if c.String("s3-endpoint") != "" {
				return usageErrorf("--s3-endpoint needs --objects s3://BUCKET/PREFIX")
			}
			if f := c.String("log-format"); f != "text" && f != "json" {
				return usageErrorf("--log-format %q: want text or json", f)
			}
			if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
				return usageErrorf("--tls-cert and --tls-key go together")
			}
			if c.Duration("shutdown-timeout") <= 0 {
				return usageErrorf("--shutdown-timeout must be positive")
			}
			if c.String("tls-cert") == "" && !c.Bool("insecure-http") && !server.IsLoopback(c.String("addr")) {
				return withHint(usageErrorf("--addr %s is beyond localhost: serving it needs TLS", c.String("addr")),
					"give --tls-cert FILE --tls-key FILE, or --insecure-http behind a TLS reverse proxy")
			}
			publicURL := ""
			if c.String("public-url") != "" {
				var err error
				if publicURL, err = server.ParsePublicURL(c.String("public-url")); err != nil {
					return usageErrorf("--public-url: %v", err)
				}
			}
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usageErrorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
			}
			if c.IsSet("parent") && (c.Int("parent") <= 0 || !processAlive(c.Int("parent"))) {
				return usageErrorf("--parent %d: no such process", c.Int("parent"))
			}
			return runServe(c.Context, serveOptions{root: e.path(c.String("root")), addr: c.String("addr"), domain: c.String("domain"), publicURL: publicURL,
				addrFile: c.String("addr-file"), noCreate: c.Bool("no-create"), private: c.Bool("private"), gcGrace: c.Duration("gc-grace"),
				solanaRPC: c.String("solana-rpc"), nftCacheTTL: c.Duration("nft-cache-ttl"), requireProofs: c.Bool("require-proofs"),
				prove: c.Bool("prove"), proveSetup: c.Bool("prove-setup"), parent: c.Int("parent"),
				logFormat: c.String("log-format"), logLevel: c.String("log-level"), tlsCert: e.path(c.String("tls-cert")), tlsKey: e.path(c.String("tls-key")),
				insecureHTTP: c.Bool("insecure-http"), shutdownTimeout: c.Duration("shutdown-timeout"),
				db: c.String("db"), migrate: c.Bool("migrate"), objects: objs, gcOnce: c.Bool("gc")}, e)
		},
	}
}

// stopWithParent cancels the returned context once process pid has
// exited, checking twice a second. When pid is this process's parent,
// being adopted by another process counts too (a dead parent that is not
// yet reaped still answers signal 0).
func stopWithParent(ctx context.Context, pid int, e *env) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	isParent := os.Getppid() == pid
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !processAlive(pid) || isParent && os.Getppid() != pid {
					e.note("fed serve: parent process %d has exited: stopping\n", pid)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

func runServe(ctx context.Context, opts serveOptions, e *env) error {
	if opts.parent > 0 {
		var cancel context.CancelFunc
		ctx, cancel = stopWithParent(ctx, opts.parent, e)
		defer cancel()
	}
	logger := serveLogger(opts.logFormat, opts.logLevel, e.stderr)
	sopts := server.Options{
		Root: opts.root, Addr: opts.addr, Domain: opts.domain, PublicURL: opts.publicURL, NoCreate: opts.noCreate,
		PrivateByDefault: opts.private, GCGrace: opts.gcGrace, Logger: logger,
		TLSCert: opts.tlsCert, TLSKey: opts.tlsKey, InsecureHTTP: opts.insecureHTTP, ShutdownTimeout: opts.shutdownTimeout,
	}
	sopts.Pages = webui.New(webui.Options{ErrorLog: func(format string, args ...any) { logger.Error(fmt.Sprintf(format, args...)) }, PublicURL: opts.publicURL, DescribeProof: proving.Describe})
	if opts.tlsCert != "" {
		reload, stop := reloadOnHangup(ctx)
		defer stop()
		sopts.Reload = reload
	}
	// The owner's zk settings live in the hosted repository's config
	// file, or with --db in the database.
	hopts := hosting.Options{ZK: true, RequireProofs: opts.requireProofs, ProveSetup: opts.proveSetup, Logger: logger}
	if opts.db != "" {
		db, err := openDB(ctx, opts, logger, e)
		if err != nil || db == nil {
			return err
		}
		defer db.Close()
		sopts.Sessions = db.Sessions()
		// the proving queue is the database's: any replica proves, and a
		// job outlives the replica that queued it
		sopts.Jobs = db.Jobs()
		// Replicas share the database and the object directory or bucket.
		var objs pgstore.ObjectStores = pgstore.DiskObjects{Root: opts.root}
		if opts.objects != nil {
			objs = opts.objects
		}
		hopts.Storage = db.Hosting(objs)
	} else {
		files, err := server.NewFiles(opts.root, nil)
		if err != nil {
			return err
		}
		hopts.Storage = files
		if opts.objects != nil {
			// objects in S3, refs and settings under --root
			hopts.Storage = server.WithObjects(files, opts.objects)
		}
	}
	var err error
	if hopts.VerifyCache, err = e.zkCache(); err != nil {
		// Every server verifies the proofs pushed to it, with the hosted
		// repository's settings; --require-proofs also needs proofs on
		// protected branches and the bound their updates are proven
		// against.
		if opts.requireProofs {
			return err
		}
		// no key cache: proofs come from their commits' authors or the owner
		fmt.Fprintf(e.stderr, "fed: serve: not verifying pushed proofs: %v\n", err)
	}
	if opts.prove {
		if hopts.ProveCache, err = e.zkCache(); err != nil {
			return err
		}
	}
	if opts.solanaRPC != "" {
		hopts.NFT = nft.NewHolderCache(opts.solanaRPC, opts.nftCacheTTL)
	}
	if sopts.Hosting, err = hosting.New(hopts); err != nil {
		return err
	}
	return serve(ctx, sopts, opts, e)
}

// openDB opens the --db database and brings its schema up to date (under
// the database's lock, so replicas starting together migrate once); with
// --migrate it says so and returns nil.
func openDB(ctx context.Context, opts serveOptions, logger *slog.Logger, e *env) (*pgstore.DB, error) {
	db, err := pgstore.Open(ctx, opts.db)
	if err != nil {
		return nil, err
	}
	from, to, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if opts.migrate {
		db.Close()
		if from == to {
			e.printf("Database %s: schema at version %d, nothing to do\n", db, to)
		} else {
			e.printf("Database %s: schema migrated from version %d to %d\n", db, from, to)
		}
		return nil, nil
	}
	logger.Info("database", slog.String("db", db.String()), slog.Int("schema", to), slog.Int("migrated_from", from))
	return db, nil
}

// serve runs the server until ctx ends; with --gc it collects once
// instead.
func serve(ctx context.Context, sopts server.Options, opts serveOptions, e *env) error {
	if opts.gcOnce {
		return collectOnce(ctx, sopts, e)
	}
	var ferr error
	err := server.Serve(ctx, sopts, func(a net.Addr) {
		if opts.addrFile != "" {
			ferr = os.WriteFile(opts.addrFile, []byte(a.String()+"\n"), 0o644)
		}
		scheme := "http"
		if opts.tlsCert != "" {
			scheme = "https"
		}
		e.note("Serving %s on %s://%s\n", opts.root, scheme, a)
		if opts.db != "" {
			e.note("Refs, settings and sessions in the database (replicas share it)\n")
		}
		if opts.objects != nil {
			e.note("Objects in %s\n", opts.objects)
		}
		if opts.solanaRPC != "" {
			e.note("Repository NFTs: holders per %s, trusted for %s\n", opts.solanaRPC, opts.nftCacheTTL)
		}
		if opts.prove {
			e.note("Proving pushed commits without proofs in the background\n")
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// collectOnce runs the server's garbage collection of every repository
// once (fed serve --gc) and prints each repository's outcome.
func collectOnce(ctx context.Context, sopts server.Options, e *env) error {
	s, err := server.New(sopts)
	if err != nil {
		return err
	}
	res, err := s.GC(ctx)
	for _, r := range res {
		if r.Report == nil {
			e.printf("%s: skipped, another replica is collecting it\n", r.Repo)
			continue
		}
		e.printf("%s: removed %d, kept %d, spared %d\n", r.Repo, r.Report.Removed, r.Report.Kept, r.Report.Spared)
	}
	if err != nil {
		return fmt.Errorf("serve --gc: %w", err)
	}
	return nil
}

// reloadOnHangup sends on the returned channel for every SIGHUP until
// stop is called or ctx ends.
func reloadOnHangup(ctx context.Context) (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	out := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, func() { signal.Stop(sig); cancel() }
}

// serveLogger is the server's access and event log on w: one slog record
// per line at level and above, in JSON or slog's key=value text
// (doc/protocol.md §9.1).
func serveLogger(format, level string, w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // checked with the flags
	ho := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
