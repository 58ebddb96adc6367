package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/fed-vcs/fed/"

// allowed lists, per package, the prefixes of non-standard imports it
// may use (besides itself). Packages not listed may import anything of
// fed's but none of the libraries owned by others below.
var allowed = map[string][]string{
	"objects":                    {"github.com/klauspost/compress/", mod + "internal/fsys"},
	"objects/graph":              {mod + "objects"},
	"objects/s3store":            {mod + "objects", "github.com/minio/minio-go/"},
	"refs":                       {mod + "objects", mod + "internal/fsys"},
	"refs/refstest":              {mod + "objects", mod + "refs"},
	"repometa":                   {mod + "objects", mod + "internal/fsys"},
	"repometa/repometatest":      {mod + "objects", mod + "repometa"},
	"merge":                      {mod + "objects"},
	"governance":                 {mod + "objects"},
	"codec":                      {mod + "objects"},
	"codec/safetensors":          {mod + "codec", mod + "objects"},
	"codec/torch":                {mod + "codec", mod + "objects"},
	"codec/npy":                  {mod + "codec", mod + "objects"},
	"codec/onnx":                 {mod + "codec", mod + "objects", "google.golang.org/protobuf/"},
	"zk":                         {mod + "objects", mod + "merge", "github.com/consensys/", mod + "internal/fsys"},
	"remote":                     {mod + "objects", mod + "refs", mod + "governance"},
	"remote/server":              {mod + "objects", mod + "refs", mod + "repometa", mod + "remote", mod + "governance", "github.com/prometheus/client_golang/", mod + "internal/fsys"},
	"hosting":                    {mod + "objects", mod + "refs", mod + "repometa", mod + "remote", mod + "zk", mod + "nft", mod + "repo", mod + "proving"},
	"nft":                        {mod + "objects", "github.com/gagliardetto/"},
	"remote/server/pgstore":      {mod + "objects", mod + "refs", mod + "repometa", mod + "remote", mod + "remote/server", "github.com/jackc/pgx/v5"},
	"remote/server/sessionstest": {mod + "objects", mod + "remote/server"},
	"internal/testpg":            {},
	"mergeexec":                  {mod + "objects", mod + "codec", mod + "merge", mod + "repo", mod + "internal/fsys", mod + "internal/textdiff"},
	"proving":                    {mod + "objects", mod + "refs", mod + "merge", mod + "zk", mod + "repo"},
	"nftlink":                    {mod + "objects", mod + "refs", mod + "nft", mod + "repo", mod + "internal/fsys"},
	"transfer":                   {mod + "objects", mod + "refs", mod + "remote", mod + "repo", mod + "governing"},
	"governing":                  {mod + "objects", mod + "refs", mod + "governance", mod + "remote", mod + "repo"},
	"webui":                      {mod + "objects", mod + "refs", mod + "governance", mod + "governing", mod + "remote", mod + "repo"},
}

// forbidden lists imports that a package (listed in allowed or not) must
// not make: repo knows nothing of zk or Solana; proving sits beside it and
// reaches repo's commits through the hooks repo offers (BeforeSign,
// RegisterKeyCheck), nftlink and governing only call into repo.
var forbidden = map[string][]string{
	"repo": {mod + "zk", mod + "proving", mod + "nft", mod + "nftlink", mod + "transfer", mod + "governing"},
}

// owned libraries may be imported by one package only.
var owned = map[string]string{
	"github.com/consensys/":     "zk",
	"github.com/gagliardetto/":  "nft",
	"github.com/urfave/cli/":    "cmd/fed",
	"github.com/go-git/go-git/": "repo",
	"github.com/prometheus/":    "remote/server",
	"github.com/minio/":         "objects/s3store",
	"github.com/jackc/":         "remote/server/pgstore",
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, imports, _ := strings.Cut(line, ":")
		pkg := strings.TrimPrefix(path, mod)
		for _, imp := range strings.Fields(imports) {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			for lib, owner := range owned {
				if strings.HasPrefix(imp, lib) && pkg != owner && !strings.HasPrefix(pkg, "internal/") && !strings.HasPrefix(pkg, "bench/") {
					t.Errorf("%s imports %s: only %s may", pkg, imp, owner)
				}
			}
			for _, f := range forbidden[pkg] {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					t.Errorf("%s imports %s, against the layering of doc/architecture.md", pkg, imp)
				}
			}
			allow, ok := allowed[pkg]
			if !ok || strings.HasPrefix(imp, mod+pkg+"/internal/") {
				continue
			}
			okImp := false
			for _, a := range allow {
				if imp == a || strings.HasPrefix(imp, a) && (strings.HasSuffix(a, "/") || strings.HasPrefix(imp, a+"/")) {
					okImp = true
				}
			}
			if !okImp {
				t.Errorf("%s imports %s, against the layering of doc/architecture.md", pkg, imp)
			}
		}
	}
}
