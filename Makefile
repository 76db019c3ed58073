# Mapdrive build, test and demo entry points. Every target installs what it
# needs through `make deps`, so a fresh Debian 12 machine (as root) needs
# nothing but this repository.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
# fuse3: cgofuse links libfuse 3 on Linux (readdirplus, 1 MiB reads and
# writes); macOS and Windows ignore the tag.
export GOFLAGS := -buildvcs=false -tags=fuse3
VERSION := $(shell cat VERSION)
MODULES := shared client service
BIN := $(CURDIR)/bin
LDFLAGS := -X github.com/mapdrive/mapdrive/shared/version.Version=$(VERSION)

.PHONY: deps deps-apt deps-go bin build test vet lint e2e bench demo demo-stop dist clean

# deps is idempotent: apt runs only for packages that are missing.
deps: deps-apt deps-go

deps-apt:
	@bash scripts/deps-apt.sh

deps-go:
	@for m in $(MODULES); do (cd $$m && go mod download) || exit 1; done

build: deps bin

# bin builds every command of every module into ./bin in one go build (one
# build graph, both cores); make test takes its binaries from here.
bin:
	@mkdir -p $(BIN)
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/ $(addprefix ./,$(addsuffix /cmd/...,$(MODULES)))

vet:
	go vet $(addprefix ./,$(addsuffix /...,$(MODULES)))

# test installs what it needs, vets, builds the binaries and the release
# artifacts once, then runs the race-enabled tests of every module, timing
# each step (scripts/test.sh). Services the tests need (PostgreSQL, Xvfb)
# are started by scripts/test-env.sh.
test:
	@bash scripts/test.sh

# e2e runs the system test alone (client/e2e, also part of test): the real
# m365sim, mapdrive-service on PostgreSQL and the agent with a FUSE mount.
e2e: deps
	@source scripts/test-env.sh && go test -race -count=1 -v -timeout 20m ./client/e2e/

lint: deps
	@bash scripts/lint.sh

bench: deps
	@bash scripts/bench.sh

demo: deps build
	@bash scripts/demo.sh start

demo-stop:
	@bash scripts/demo.sh stop

dist: deps
	@bash scripts/dist.sh

clean:
	rm -rf $(BIN) dist
