#!/usr/bin/env bash
# Installs what Keelson needs on a Debian machine: the container runtime, CNI plugins,
# a local registry, nftables, git, ssh-keygen (SSH-signed commits in tests), chromium
# (the web view's browser tests) and kubectl. Idempotent: does nothing when all is present.
# As root it installs with apt-get; otherwise it says what is missing. Under CI=true a
# missing piece is an error, because CI must run the real end-to-end tests.
set -euo pipefail

# command-or-file  debian-package
needs=(
  "containerd:containerd"
  "runc:runc"
  "ctr:containerd"
  "/usr/lib/cni/bridge:containernetworking-plugins"
  "/usr/lib/cni/host-local:containernetworking-plugins"
  "/usr/lib/cni/portmap:containernetworking-plugins"
  "/usr/lib/cni/loopback:containernetworking-plugins"
  "docker-registry:docker-registry"
  "nft:nftables"
  "iptables:iptables"
  "ip:iproute2"
  "git:git"
  "/usr/lib/git-core/git-http-backend:git"
  "ssh-keygen:openssh-client"
  "chromium:chromium"
  # test/kubectl drives the real kubectl. The machine image has 1.32; where it is
  # missing, Debian's kubernetes-client (1.20) is installed: it speaks the legacy
  # discovery and meta.k8s.io/v1 Tables that Keelson serves (checked by hand: get -o
  # wide, describe with events, delete/apply refused with the Git message).
  "kubectl:kubernetes-client"
)

missing=()
pkgs=()
for n in "${needs[@]}"; do
  what=${n%%:*} pkg=${n##*:}
  if [[ $what == /* ]]; then [[ -e $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue; fi
  missing+=("$what")
  [[ " ${pkgs[*]-} " == *" $pkg "* ]] || pkgs+=("$pkg")
done

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is not on PATH (expected /usr/local/go/bin/go, Go 1.26)" >&2
  exit 1
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing ${missing[*]} (Debian packages: ${pkgs[*]})." >&2
  echo "install-deps: run as root to install them; tests that need them will be skipped." >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 0
fi

echo "install-deps: installing ${pkgs[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# The Debian containerd package starts a system daemon; Keelson runs private instances
# and does not need it, but leaving it running is harmless.
echo "install-deps: done" >&2
