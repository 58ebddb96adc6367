package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fed-vcs/fed/internal/testchain"
	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// TestNFTScripts runs testdata/nft/*.txtar against one local Solana chain
// (litesvm behind a JSON-RPC front, see internal/testchain), exported to
// the scripts as $SOLANA_RPC. Scripts choose how fed finds it (--rpc,
// config solana.rpc or the Solana CLI's config file), so fed's code sees
// an ordinary RPC node; $CHAIN_DIR/readmint.js reads a mint back with
// the official SPL libraries, as a wallet does. It skips only when node is
// not installed.
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
			// testdata/chain: readmint.js reads a mint with the SPL libraries.
			env.Setenv("CHAIN_DIR", testchain.Dir())
			env.Setenv("TESTPID", strconv.Itoa(os.Getpid()))
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
			"waitfile":  cmdWaitFile,
			"protect":   cmdProtect,
			"sleep":     cmdSleep,
			"httpget":   cmdHTTPGet,
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

// waitfile FILE waits up to 30s for FILE to exist and be non-empty (the
// --addr-file of a fed serve started in the background).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := os.Stat(ts.MkAbs(args[0])); err == nil && st.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile: %s did not appear within 30s", args[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// protect URL KEYFILE REF... makes REFs the protected refs of the
// repository at URL, as the owner whose key is in KEYFILE (fed has no
// command for it yet).
func cmdProtect(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: protect URL KEYFILE REF...")
	}
	k, err := objects.LoadKeypair(ts.MkAbs(args[1]))
	ts.Check(err)
	c, err := remote.New(args[0], remote.Options{Key: k, MaxRetries: -1})
	ts.Check(err)
	refs := args[2:]
	s, err := c.UpdateSettings(context.Background(), remote.SettingsUpdate{Protected: &refs})
	ts.Check(err)
	ts.Logf("protected: %v", s.Protected)
}

// sleep DURATION pauses the script (to let a server's cache expire).
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}
