package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fed-vcs/fed/internal/testchain"
	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
)

// TestNFTScripts runs testdata/nft/*.txtar against one local Solana chain
// (litesvm behind a JSON-RPC front, see internal/testchain), exported to
// the scripts as $SOLANA_RPC. Scripts choose how fed finds it (--rpc,
// config solana.rpc or the Solana CLI's config file), so fed's code sees
// an ordinary RPC node. It skips only when node is not installed.
func TestNFTScripts(t *testing.T) {
	rpcURL := testchain.Run(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/nft",
		Setup: func(env *testscript.Env) error {
			home := env.WorkDir + "-home"
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", "")
			env.Setenv("FED_CONFIG", "")
			// A fresh wallet per script: scripts share the chain.
			k, err := objects.GenerateKeypair()
			if err != nil {
				return err
			}
			if err := k.Save(filepath.Join(home, ".config", "solana", "id.json")); err != nil {
				return err
			}
			env.Setenv("PUBKEY", k.Public().String())
			env.Setenv("SOLANA_RPC", rpcURL)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitcode,
			"genmodel":  cmdGenmodel,
			"mkkey":     cmdMkkey,
			"airdrop":   cmdAirdrop,
			"jsonfield": cmdJSONField,
			"envfile":   cmdEnvFile,
			"jsonenv":   cmdJSONEnv,
		},
	})
}

// airdrop PUBKEY LAMPORTS funds a wallet on $SOLANA_RPC.
func cmdAirdrop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: airdrop PUBKEY LAMPORTS")
	}
	k, err := objects.ParsePublicKey(args[0])
	ts.Check(err)
	n, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	c := nft.NewClient(ts.Getenv("SOLANA_RPC"))
	defer c.Close()
	ts.Check(c.Airdrop(context.Background(), k, n))
}

// envfile VAR FILE sets $VAR to FILE's content without surrounding space.
func cmdEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile VAR FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	ts.Setenv(args[0], strings.TrimSpace(string(b)))
}

// jsonenv VAR FILE KEY... sets $VAR to the string at KEY... (object keys
// or array indexes) of the JSON in FILE.
func cmdJSONEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: jsonenv VAR FILE KEY...")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var v any
	ts.Check(json.Unmarshal(b, &v))
	for _, k := range args[2:] {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonenv: no index %s", k)
			}
			v = x[i]
		default:
			ts.Fatalf("jsonenv: cannot index %T with %s", v, k)
		}
	}
	s, ok := v.(string)
	if !ok {
		ts.Fatalf("jsonenv: %v is not a string", v)
	}
	ts.Setenv(args[0], s)
}
