# plexus — build and test targets.
#
#   make test   install what the tests need when it is missing, vet for this
#               machine and cross-vet for the other platforms plexus supports,
#               then run every test with the race detector.

GO ?= go
# Debian packages the tests use: the reference peers of the socket tests,
# nngcat (nng-utils) and nanocat (nanomsg-utils), the headless browser
# of the status page's test (chromium), and the NAT of the mesh's
# network-namespace test (iptables).
APT_PKGS ?= nng-utils nanomsg-utils chromium iptables

# The platforms plexus must build and vet for, besides this machine's.
CROSS ?= linux/arm64 linux/386 linux/arm darwin/arm64 windows/amd64

.PHONY: test deps vet crossvet race fuzz bench demo

test: deps vet crossvet race

# deps installs the reference peers, Chromium and iptables when they are
# missing. It needs root and Debian's package mirror; without them the
# interop tests, the browser test and the NAT test skip and say why.
deps:
	@missing=""; \
	command -v nngcat  >/dev/null 2>&1 || missing="$$missing nng-utils"; \
	command -v nanocat >/dev/null 2>&1 || missing="$$missing nanomsg-utils"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || missing="$$missing iptables"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
				echo "note: could not install$$missing; the tests that need them will skip"; \
		else \
			echo "note:$$missing not installed (need root and apt-get); the tests that need them will skip"; \
		fi; \
	fi

vet:
	$(GO) vet ./...

# crossvet builds and vets every package for each platform in CROSS.
crossvet:
	@set -e; for p in $(CROSS); do \
		echo "go vet ./... for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 $(GO) vet ./...; \
	done

race:
	$(GO) test -race -timeout 15m ./...

demo:
	$(GO) run ./cmd/plexus demo
