#!/usr/bin/env bash
# Removes what a test run may have left on the machine if a test process died before
# its own cleanup ran: processes, network namespaces, links, nftables tables, mounts
# and directories created by Keelson's tests. Tests clean up after themselves; this is
# the safety net `make test` runs afterwards, whatever the outcome. It touches only
# names the tests use (keelson-test-*, keelson-e2e-*, kls-*, kls_*, kt*, kp*, hg*, kchaos*), never the dev
# cluster (keelson-dev, keelson0).
set -u
[[ $(id -u) -eq 0 ]] || exit 0

# Processes started from test directories.
for pat in '/run/keelson-test-' '/run/keelson-e2e-' '/run/keelson-mn-' '/run/keelson-sec-' 'keelson-test-reg'; do
  pkill -KILL -f -- "$pat" 2>/dev/null || true
done

# Network namespaces and links made by tests.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^(kls-|kt-|kp[0-9a-f]{6}|hg[0-9a-f]{6}|keelson-test|kchaos-)'); do
  ip netns del "$ns" 2>/dev/null || true
done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^(kls-|kt[0-9a-f]{8}$|kchaos0$|kc[0-9a-f]{6}[sn][0-9]$)'); do
  ip link del "$l" 2>/dev/null || true
done

# nftables tables of test proxies (the dev cluster's table is "keelson").
for t in $(nft list tables 2>/dev/null | awk '$2=="ip" {print $3}' | grep -E '^(keelson-|kls_)'); do
  nft delete table ip "$t" 2>/dev/null || true
done

# Cluster DNS addresses of test agents left on lo (169.254.25-30.x; the dev cluster's
# default is 169.254.20.10 and stays).
for a in $(ip -4 -o addr show dev lo 2>/dev/null | awk '{print $4}' | grep -E '^169\.254\.(2[5-9]|30)\.[0-9]+/32$'); do
  ip addr del "$a" dev lo 2>/dev/null || true
done

# Mounts and directories of private containerd instances.
for d in /run/keelson-test-* /run/keelson-e2e-* /run/keelson-mn-* /run/keelson-sec-*; do
  [[ -e $d ]] || continue
  awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$d" 2>/dev/null || true
done
exit 0
