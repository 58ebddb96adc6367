package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUserConfigOption: the user's config file is the one the caller
// names (Options.UserConfig), read beneath the repository's own; without
// one none is read, whatever the environment says.
func TestUserConfigOption(t *testing.T) {
	user := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(user, []byte("[solana]\n\trpc = http://user.example\n[zk]\n\tchunk = 256\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FED_CONFIG", user) // read by cmd/fed only
	dir := t.TempDir()
	r, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Config.Get("solana.rpc"); ok {
		t.Errorf("Init read a user config: solana.rpc = %q", v)
	}
	if err := r.Config.Set("zk.chunk", "512"); err != nil {
		t.Fatal(err)
	}
	if err := r.Config.Save(); err != nil {
		t.Fatal(err)
	}
	if r, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Config.Get("solana.rpc"); ok {
		t.Errorf("Open read a user config: solana.rpc = %q", v)
	}
	if r, err = OpenWith(dir, Options{UserConfig: user}); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Config.Get("solana.rpc"); v != "http://user.example" {
		t.Errorf("OpenWith: solana.rpc = %q, want the user's", v)
	}
	if v, _ := r.Config.Get("zk.chunk"); v != "512" {
		t.Errorf("OpenWith: zk.chunk = %q, want the repository's 512 over the user's", v)
	}
	uc, err := LoadUserConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := uc.Get("solana.rpc"); v != "http://user.example" {
		t.Errorf("LoadUserConfig: solana.rpc = %q", v)
	}
	if uc, err = LoadUserConfig(""); err != nil || len(uc.All()) != 0 {
		t.Errorf("LoadUserConfig(\"\"): %v, %v", uc.All(), err)
	}
}
