# fed — make targets. Everything runs on a fresh machine with Go 1.26;
# `make test` needs nothing else, `make bench` installs its peers itself.
GO       ?= go
BIN      := bin
FED      := $(BIN)/fed
GENMODEL := $(BIN)/genmodel
PKGS     := ./...
FUZZTIME ?= 10s

# VERSION and COMMIT are stamped into fed (fed --version): the nearest tag
# ("v1.2.0-3-gabc1234" past it, "-dirty" with local changes) and the full
# commit id. Override them to build a release: make build VERSION=v1.2.0.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: screenshots cross test-windows release example-torch bench-merge bench-sides bench-tensors bench-remote bench-serve bench-pages all build test test-short vet fmt-check lint fuzz bench bench-storage bench-zk demo chain clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(FED) ./cmd/fed
	$(GO) build -o $(GENMODEL) ./examples/genmodel

## test: formatting, vet, the cross-compiled builds, every test, then the concurrent core
## (object store, remote and server) again under the race detector (the command CI runs)
RACE_PKGS := ./objects/... ./remote/...
test: fmt-check vet cross
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(GO) test -count=1 -race $(RACE_PKGS)
	@$(MAKE) --no-print-directory test-windows

## test-windows: the Windows build's tests of the storage core (file system, objects, refs,
## working tree, codecs) under Wine: Debian's wine64, skipped with a message when it is
## missing. internal/winetest fits Go 1.26's Windows port to Wine 8 (see its doc); the
## prefix lives in $$WINEPREFIX (default ~/.cache/fed/wine). The wine server and Wine's
## services are started first, apart, so that they do not hold a test binary's output open
WINE      ?= $(firstword $(shell command -v wine64 2>/dev/null) $(wildcard /usr/lib/wine/wine64))
WINE_PKGS := ./internal/fsys/... ./objects/... ./refs/... ./repo/... ./codec/...
test-windows:
	@if [ -z "$(WINE)" ]; then echo "test-windows: skipped: wine64 is not installed (apt-get install wine64)"; exit 0; fi; \
	set -e; export WINEPREFIX="$${WINEPREFIX:-$$HOME/.cache/fed/wine}" WINEDEBUG=-all; \
	ov=$$($(GO) run ./internal/winetest -wine "$(WINE)" -out "$$WINEPREFIX/fed-overlay"); \
	ws=$$(command -v wineserver || echo $(dir $(WINE))wineserver); \
	$$ws -p </dev/null >/dev/null 2>&1; trap "$$ws -k 2>/dev/null || true" EXIT; \
	"$(WINE)" wineboot </dev/null >/dev/null 2>&1; \
	echo "GOOS=windows go test -exec $(WINE) $(WINE_PKGS)"; \
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) test -count=1 -overlay "$$ov" -exec "$(WINE)" $(WINE_PKGS)

## test-race: every test under the race detector (cmd/fed alone takes over 10 minutes so)
test-race:
	$(GO) test -count=1 -race -timeout 60m $(PKGS)

vet:
	$(GO) vet $(PKGS)

## cross: build and vet every package (tests included) for each release target, pure Go
## (CGO_ENABLED=0), so that a platform break fails CI; the first run compiles the
## dependencies for each target (~1-2 min each on 2 cores), later runs use the build cache
CROSS_TARGETS := linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
	  echo "== cross $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build $(PKGS); \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) vet $(PKGS); \
	done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## lint: gofmt, then golangci-lint (fetched by version from the module proxy; .golangci.yml:
## vet, staticcheck, unused, ineffassign, and depguard rules for the package layering)
lint: fmt-check
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run $(PKGS)

## fuzz: every fuzz target for $(FUZZTIME); minimizing a new input stops after 5 s (Go's
## default of 60 s can take a whole short run when coverage varies between runs of one input)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

## bench: every benchmark, fed side by side with its peer
bench: bench-storage bench-merge bench-sides bench-tensors bench-remote bench-serve bench-zk bench-pages
	$(GO) test -run '^$$' -bench . -benchtime 1x ./merge/ ./objects/ ./proving/

## bench-pages: fed serve's commit page of a model with 3,000 tensors (2,900 changed): uncached,
## cached, and fed diff's statistics of every tensor (what each request computed before)
bench-pages:
	$(GO) test -run '^$$' -bench BigCommitPage -benchtime 5x -benchmem ./webui/

## bench-zk: proving at the production chunk size (keys kept in $$FED_ZK_CACHE when set)
bench-zk:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./zk/

## bench-storage: fed vs git-lfs, add+commit of a 512 MiB model and two follow-ups (SIZE=128MiB: of
## a smaller model, issue 20's second row; RUNS=5: five runs and their medians)
SIZE ?= 512MiB
RUNS ?= 1
bench-storage: build
	@command -v git-lfs >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git-lfs)
	$(GO) run ./bench/storage -fed $(FED) -genmodel $(GENMODEL) -size $(SIZE) -runs $(RUNS)

## bench-merge: fed merge (fedavg) vs a NumPy FedAvg of 4 × 256 MiB models, then the bound of
## fed's work on this machine (each step's speed, a minimal merge on every core; bench/merge/bound.go)
bench-merge: build
	@/usr/bin/python3 -c 'import numpy' 2>/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy)
	$(GO) run ./bench/merge -fed $(FED) -genmodel $(GENMODEL) -size 256MiB

## bench-sides: fed merge of K = 16, 64, 256 and 1,000 contributions of a 32 MiB model by
## fedavg and by median (time, CPU time and peak RSS per K; issue 20's many-sides row). The
## repository of sides takes ~1 GB of disk under $$TMPDIR; SIDES=16,64 runs fewer
SIDES ?= 16,64,256,1000
bench-sides: build
	$(GO) run ./bench/sides -fed $(FED) -genmodel $(GENMODEL) -size 32MiB -sides $(SIDES)

## bench-tensors: what fed pays per tensor: add+commit and a 4-way fedavg merge of 128 MiB as
## 40 tensors vs 2,000 (half of them 4 KiB vectors), side by side, 5 runs, with CPU time and counts
bench-tensors: build
	$(GO) run ./bench/tensors -fed $(FED) -genmodel $(GENMODEL) -runs 5

## bench-remote: push and clone of a 512 MiB model over loopback vs plain HTTP, each side's CPU, and
## the bound of a clone measured in the same run (hash, decode, writes); TMPDIR=/dev/shm: on tmpfs
bench-remote:
	$(GO) test -run '^$$' -bench PushClone -benchtime 1x ./remote/

## bench-serve: fed serve under $(CLIENTS) clients pushing small commits and fetching: the disk
## default and 1 and 2 replicas on PostgreSQL (+ S3 via versitygw when installed), 3 runs each,
## as fast as the clients can, then with pushes offered at $(RATE)/s in all (issue 17's goal)
CLIENTS ?= 100
RATE    ?= 200
bench-serve: build
	$(GO) run ./bench/serve -fed $(FED) -clients $(CLIENTS) -runs 3
	$(GO) run ./bench/serve -fed $(FED) -clients $(CLIENTS) -runs 3 -rate $(RATE)

## demo: a repository with a generated model, branches, commits and history (and, when node
## is installed, the repository's NFT minted and a commit anchored on the local chain)
demo: build
	./examples/demo.sh

## example-torch: federated training of a real PyTorch model by three clinics, proven and
## verified (examples/torch; needs /usr/bin/python3 with torch: apt-get install python3-torch)
example-torch: build
	./examples/torch/federated.sh

## chain: the local Solana chain of the tests and demo (litesvm behind a JSON-RPC front on
## 127.0.0.1, testdata/chain; needs node >= 20, runs `npm ci` there first when needed). Prints
## its URL as the first line of stdout and serves until interrupted, until process $$PARENT
## is gone, or after $$IDLE seconds (600) without a request. CHAIN_PORT=8899 pins the port.
chain:
	@./testdata/chain/start.sh $(if $(CHAIN_PORT),--port $(CHAIN_PORT))

## screenshots: the README's pictures of the web pages (doc/img/repository.png, commit.png,
## rounds.png), taken by webui's browser test in chromium (apt-get install chromium)
screenshots:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || (echo "screenshots: needs chromium (apt-get install chromium)"; exit 1)
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	$(GO) test -count=1 -run '^TestBrowser$$' ./webui -screenshots "$$d" && \
	cp "$$d/repository.png" "$$d/commit.png" "$$d/rounds.png" doc/img/ && ls -l doc/img/

## release: static binaries for the five release targets, stamped with VERSION and the
## commit, as dist/fed_<version>_<os>_<arch>.tar.gz (.zip for windows) with dist/SHA256SUMS,
## then checked (scripts/verify-release.sh): make release VERSION=v1.2.3
release:
	@if [ "$(origin VERSION)" != "command line" ]; then echo "release: name the version: make release VERSION=vX.Y.Z"; exit 2; fi
	./scripts/release.sh $(VERSION) dist
	./scripts/verify-release.sh $(VERSION) dist

clean:
	rm -rf $(BIN) dist
