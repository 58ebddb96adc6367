package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/nftlink"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

type nftOptions struct {
	verb    string
	args    []string
	release string
	uri     string
	rpc     string
	json    bool
}

func newNFTCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "nft",
		Usage:     "mint, show, transfer or link the repository's NFT on Solana",
		ArgsUsage: "mint [--release TAG] | show [MINT] | transfer NEW_OWNER | link [REMOTE] | unlink [REMOTE]",
		Description: "A repository's ownership (and, on request, a release) is a Solana Token-2022 NFT\n" +
			"with its metadata in the mint: name, symbol FED, uri (the metadata document\n" +
			"fed serve answers for the origin remote, <URL>/-/nft.json; --uri URL instead)\n" +
			"and fields fed.repo (the root commit id), and for a release fed.tag, fed.commit\n" +
			"and fed.tree. Whoever holds the repository NFT owns the repository on servers\n" +
			"that trust the chain.\n\n" +
			"   mint [--release TAG]   mint the NFT to your key, record its address in the\n" +
			"                          config (nft.mint, or release.TAG.nft) and print it\n" +
			"   show [MINT]            the NFT's holder and metadata (default: this\n" +
			"                          repository's, or the release's with --release); checks\n" +
			"                          that fed.repo is this repository\n" +
			"   transfer NEW_OWNER     give the repository NFT, with the right to rewrite its\n" +
			"                          metadata, to the wallet NEW_OWNER (base58)\n" +
			"   link [REMOTE]          tell the server of REMOTE (default origin) that the\n" +
			"                          repository NFT recorded by mint (nft.mint) owns the\n" +
			"                          repository there: from then on its owner is whoever\n" +
			"                          holds the NFT. Run it once, after 'fed push' and 'fed\n" +
			"                          nft mint', as the repository's owner holding the NFT;\n" +
			"                          the server must run with --solana-rpc on the same chain.\n" +
			"                          mint never links by itself: the server's copy may not\n" +
			"                          exist yet, and linking hands ownership to the chain.\n" +
			"   unlink [REMOTE]        undo link (the NFT's holder only): you become the\n" +
			"                          server's owner of record\n\n" +
			"The RPC node is --rpc, else config solana.rpc, else json_rpc_url in the Solana\n" +
			"CLI's ~/.config/solana/cli/config.yml. Your key (--keypair) pays the fees.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "release", Usage: "the release NFT of tag `TAG` (mint, show)"},
			&cli.StringFlag{Name: "uri", Usage: "the metadata's uri, an http(s) `URL` (mint; default: the origin remote's <URL>/-/nft.json)"},
			&cli.StringFlag{Name: "rpc", Usage: "Solana JSON-RPC node `URL`"},
			&cli.BoolFlag{Name: "json", Usage: "print show's result as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) == 0 {
				return usageErrorf("nft needs a verb: mint, show or transfer")
			}
			opts := nftOptions{verb: args[0], args: args[1:], release: c.String("release"), uri: c.String("uri"), rpc: c.String("rpc"), json: c.Bool("json")}
			if opts.verb == "link" || opts.verb == "unlink" {
				return runNFTLink(c.Context, opts, e)
			}
			return runNFT(c.Context, opts, e)
		},
	}
}

func runNFT(ctx context.Context, opts nftOptions, e *env) error {
	if opts.uri != "" && opts.verb != "mint" {
		return usageErrorf("--uri is for nft mint")
	}
	switch opts.verb {
	case "mint":
		if len(opts.args) != 0 || opts.json {
			return usageErrorf("nft mint takes no arguments and no --json")
		}
		if opts.uri != "" {
			if err := nftlink.ValidateURI(opts.uri); err != nil {
				return usageErrorf("--uri: %v", err)
			}
		}
	case "show":
		if len(opts.args) > 1 {
			return usageErrorf("nft show takes at most one MINT")
		}
		if len(opts.args) == 1 && opts.release != "" {
			return usageErrorf("nft show takes MINT or --release, not both")
		}
	case "transfer":
		if len(opts.args) != 1 || opts.release != "" || opts.json {
			return usageErrorf("nft transfer takes one NEW_OWNER (a base58 wallet address)")
		}
	default:
		return usageErrorf("unknown nft verb %q: want mint, show, transfer, link or unlink", opts.verb)
	}
	r, err := e.openRepo(true)
	if err != nil {
		if opts.verb == "show" && len(opts.args) == 1 && errors.Is(err, repo.ErrNotRepo) {
			return nftShowOutside(ctx, opts, e)
		}
		return err
	}
	c, err := e.solanaClient(opts.rpc, r.Config)
	if err != nil {
		return err
	}
	defer c.Close()
	switch opts.verb {
	case "mint":
		err = runNFTMint(ctx, r, c, opts, e)
	case "show":
		err = runNFTShow(ctx, r, c, opts, e)
	default:
		err = runNFTTransfer(ctx, r, c, opts, e)
	}
	return e.solanaError(err, r)
}

// solanaClient connects to the node chosen by --rpc, config solana.rpc or
// the Solana CLI's config.
func (e *env) solanaClient(flag string, cfg *repo.Config) (*nft.Client, error) {
	url, _, err := nftlink.ResolveSolanaRPC(flag, cfg, solanaCLIConfigPath())
	if errors.Is(err, nftlink.ErrNoRPC) {
		return nil, withHint(err, "name a node with --rpc URL or 'fed config solana.rpc URL' (devnet: https://api.devnet.solana.com)")
	}
	if err != nil {
		return nil, err
	}
	return nft.NewClient(url), nil
}

// solanaError prints a rejected transaction's program logs and attaches
// the advice that fits the error.
func (e *env) solanaError(err error, r *repo.Repo) error {
	if err == nil {
		return nil
	}
	var te *nft.TxError
	if errors.As(err, &te) {
		for _, l := range te.Logs {
			fmt.Fprintf(e.stderr, "fed: program log: %s\n", l)
		}
	}
	switch {
	case errors.Is(err, nft.ErrInsufficientFunds):
		who := "your wallet"
		if r != nil && r.Key != nil {
			who = r.Key.Public().String()
		}
		return withHint(err, "fund "+who+" with SOL (on devnet: 'solana airdrop 1 "+who+" --url devnet')")
	case errors.Is(err, nft.ErrUnreachable):
		return withHint(err, "check the node: --rpc URL, 'fed config solana.rpc URL', or json_rpc_url in ~/.config/solana/cli/config.yml")
	case errors.Is(err, nft.ErrAlreadyMinted):
		return withHint(err, "see it with 'fed nft show'")
	case errors.Is(err, nftlink.ErrNoNFT):
		return withHint(err, "mint it with 'fed nft mint'")
	case errors.Is(err, nft.ErrNotHolder):
		return withHint(err, "only the holder's key (--keypair) can transfer it")
	case errors.Is(err, nft.ErrNotConfirmed):
		return withHint(err, "the transaction may still land: check with 'fed nft show' before trying again")
	}
	return err
}

func runNFTMint(ctx context.Context, r *repo.Repo, c *nft.Client, opts nftOptions, e *env) error {
	if err := e.loadKey(r); err != nil {
		return err
	}
	res, replaced, err := nftlink.Mint(ctx, r, c, opts.release, opts.uri)
	if err != nil {
		return err
	}
	if replaced != "" {
		e.note("note: the recorded NFT %s does not exist on %s; replaced it\n", replaced, c.URL())
	}
	what := "the repository"
	if opts.release != "" {
		what = "release " + opts.release
	}
	e.note("Minted the NFT of %s to %s (transaction %s)\n", what, r.Key.Public(), strings.Join(res.Signatures, ", "))
	e.printf("%s\n", res.Mint)
	return nil
}

func runNFTShow(ctx context.Context, r *repo.Repo, c *nft.Client, opts nftOptions, e *env) error {
	var mint objects.PublicKey
	var err error
	if len(opts.args) == 1 {
		if mint, err = parseWallet(opts.args[0]); err != nil {
			return err
		}
	} else if mint, err = nftlink.MintOf(r, opts.release); err != nil {
		return err
	}
	s, err := nftlink.Show(ctx, r, c, mint)
	if err != nil {
		return err
	}
	if opts.json {
		if err := e.printJSON(s); err != nil {
			return err
		}
	} else {
		printNFT(e, s.NFT)
		if s.RepoMatch {
			e.printf("repository: %s (this repository)\n", s.RepoID)
		}
	}
	if !s.RepoMatch {
		v, _ := s.NFT.Metadata.Get(nft.FieldRepo)
		return &exitError{code: exitFailure, msg: fmt.Sprintf("NFT %s is not this repository's: its %s is %q, this repository is %s", mint, nft.FieldRepo, v, s.RepoID)}
	}
	return nil
}

func nftShowOutside(ctx context.Context, opts nftOptions, e *env) error {
	mint, err := parseWallet(opts.args[0])
	if err != nil {
		return err
	}
	cfg, err := repo.LoadUserConfig(e.userConfigPath())
	if err != nil {
		return err
	}
	c, err := e.solanaClient(opts.rpc, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.Show(ctx, mint)
	if err != nil {
		return e.solanaError(err, nil)
	}
	if opts.json {
		return e.printJSON(info)
	}
	printNFT(e, info)
	return nil
}

func printNFT(e *env, info *nft.Info) {
	holder := "(nobody)"
	if info.Holder != (objects.PublicKey{}) {
		holder = info.Holder.String()
	}
	e.printf("mint:       %s\n", info.Mint)
	e.printf("holder:     %s\n", holder)
	e.printf("name:       %s\n", info.Metadata.Name)
	e.printf("symbol:     %s\n", info.Metadata.Symbol)
	e.printf("uri:        %s\n", info.Metadata.URI)
	e.printf("authority:  %s\n", info.Metadata.UpdateAuthority)
	e.printf("supply:     %d\n", info.Supply)
	for _, f := range info.Metadata.Fields {
		e.printf("%-11s %s\n", f.Key+":", f.Value)
	}
	for _, p := range info.Problems {
		fmt.Fprintf(e.stderr, "warning: %s\n", p)
	}
}

func runNFTTransfer(ctx context.Context, r *repo.Repo, c *nft.Client, opts nftOptions, e *env) error {
	to, err := parseWallet(opts.args[0])
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	sig, err := nftlink.Transfer(ctx, r, c, to)
	if err != nil {
		return err
	}
	e.note("Transferred the repository NFT to %s\n", to)
	e.printf("%s\n", sig)
	return nil
}

func parseWallet(s string) (objects.PublicKey, error) {
	k, err := objects.ParsePublicKey(s)
	if err != nil {
		return k, usageErrorf("%q is not a Solana address (base58, 32 bytes): %v", s, err)
	}
	return k, nil
}

// runNFTLink links the repository on a server to its repository NFT
// (settings "nft"), or unlinks it.
func runNFTLink(ctx context.Context, opts nftOptions, e *env) error {
	if len(opts.args) > 1 || opts.release != "" || opts.rpc != "" || opts.uri != "" {
		return usageErrorf("nft %s takes at most one REMOTE, and no --release, --uri or --rpc (the server asks its own node)", opts.verb)
	}
	name := repo.DefaultRemote
	if len(opts.args) == 1 {
		name = opts.args[0]
	}
	r, err := e.openRepo(true)
	if err != nil {
		return err
	}
	value := ""
	if opts.verb == "link" {
		mint, err := nftlink.MintOf(r, "")
		if err != nil {
			return e.solanaError(err, r)
		}
		value = mint.String()
	}
	c, err := e.signedClient(r, name)
	if err != nil {
		return err
	}
	url, _ := r.Config.Get("remote." + name + ".url")
	s, err := c.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &value})
	if err != nil {
		var p *remote.Problem
		switch {
		case errors.As(err, &p) && p.Code == remote.CodeNotFound:
			return withHint(remoteError(err), "push the repository first: 'fed push "+name+"'")
		case errors.As(err, &p) && p.Code == remote.CodeBadRequest:
			return withHint(err, "push a commit to the default branch first, and run the server with 'fed serve --solana-rpc URL'")
		case errors.As(err, &p) && p.Code == remote.CodeForbidden:
			return withHint(err, "only the repository's owner on the server, holding the NFT ('fed nft show'), may link or unlink it")
		}
		return remoteError(err)
	}
	if opts.json {
		return e.printJSON(s)
	}
	if opts.verb == "link" {
		e.note("Linked %s to NFT %s: its holder owns the repository there\n", url, s.NFT)
	} else {
		e.note("Unlinked %s from its NFT\n", url)
	}
	owner := s.Owner
	if owner == "" {
		owner = "(nobody)"
	}
	e.printf("owner: %s\n", owner)
	if s.NFT != "" {
		e.printf("nft:   %s\n", s.NFT)
	}
	return nil
}
