package nftlink

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/repo"
)

func TestResolveSolanaRPC(t *testing.T) {
	home := t.TempDir()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(home, ".config", "solana", "cli", "config.yml")
	if _, _, err := ResolveSolanaRPC("", r.Config, cli); !errors.Is(err, ErrNoRPC) {
		t.Fatalf("nothing configured: %v, want ErrNoRPC", err)
	}
	if _, _, err := ResolveSolanaRPC("", r.Config, ""); !errors.Is(err, ErrNoRPC) {
		t.Fatalf("no CLI config file: %v, want ErrNoRPC", err)
	}
	if err := os.MkdirAll(filepath.Dir(cli), 0o755); err != nil {
		t.Fatal(err)
	}
	yml := "---\njson_rpc_url: \"http://cli.example:8899\"\nwebsocket_url: \"\"\nkeypair_path: /x/id.json\n"
	if err := os.WriteFile(cli, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(flag, wantURL, wantSource string) {
		t.Helper()
		u, src, err := ResolveSolanaRPC(flag, r.Config, cli)
		if err != nil || u != wantURL || src != wantSource {
			t.Errorf("ResolveSolanaRPC(%q) = %q, %q, %v; want %q from %q", flag, u, src, err, wantURL, wantSource)
		}
	}
	check("", "http://cli.example:8899", cli)
	if err := r.Config.Set(ConfigSolanaRPC, "http://config.example"); err != nil {
		t.Fatal(err)
	}
	check("", "http://config.example", "config solana.rpc")
	check("http://flag.example", "http://flag.example", "--rpc")

	// A CLI file without json_rpc_url.
	r.Config.Unset(ConfigSolanaRPC)
	if err := os.WriteFile(cli, []byte("keypair_path: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ResolveSolanaRPC("", r.Config, cli); !errors.Is(err, ErrNoRPC) {
		t.Errorf("file without json_rpc_url: %v, want ErrNoRPC", err)
	}
}

func TestYAMLValue(t *testing.T) {
	for in, want := range map[string]string{
		"json_rpc_url: https://a\n":           "https://a",
		"json_rpc_url: 'https://b'\n":         "https://b",
		"x: 1\njson_rpc_url: \"https://c\"\n": "https://c",
		"  json_rpc_url: nested\n":            "",
		"json_rpc_url_x: no\n":                "",
	} {
		if got := yamlValue([]byte(in), "json_rpc_url"); got != want {
			t.Errorf("yamlValue(%q) = %q, want %q", in, got, want)
		}
	}
}
