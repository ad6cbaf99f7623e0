#!/usr/bin/env bash
# Runs Keelson's benchmarks (the per-package ones and the product-level ones in
# test/bench) with bounded iteration counts, so the whole run fits in ~10 minutes on a
# 2-core machine, and prints one Markdown table (test/bench/cmd/benchtable). The raw
# `go test -bench` output is kept in $BENCH_OUT (default /tmp/keelson-bench.out) for pprof and
# for checking the table. Benchmarks that need root skip without it and say so.
# Called by `make bench` with KEELSON_BIN set; works without it (builds the binary).
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
out=${BENCH_OUT:-${TMPDIR:-/tmp}/keelson-bench.out}
: >"$out"
[[ -n ${KEELSON_BIN:-} ]] && export KEELSON_BIN

# pkg | benchmark regexp | -benchtime | timeout
runs=(
  "./gitsource|^BenchmarkPushToRevision$|1x|5m"
  "./raftstore|^BenchmarkApply$|300x|5m"
  "./raftstore|^BenchmarkFailover$|3x|5m"
  "./raftstore|^BenchmarkReplicaHeap100kPods$|1x|10m"
  "./raftstore|^BenchmarkSnapshotRestore100k$|1x|10m"
  "./raftstore|^BenchmarkRestart100k$|1x|15m"
  "./reconciler|^BenchmarkPlan100kPods5kNodes$|1x|5m"
  "./node|^BenchmarkAssignToRunning$|300x|5m"
  "./node|^BenchmarkManyPods$|1x|5m"
  "./node/containerd|^BenchmarkStartPod$|20x|5m"
  "./node/proxy|^BenchmarkThroughput$|3000x|5m"
  "./node/proxy|^BenchmarkEndpointUpdate1000Services$|20x|5m"
  "./test/bench|^BenchmarkAgentMemory100Pods$|1x|5m"
  "./test/bench|^BenchmarkNodeLoss$|1x|5m"
  "./test/bench|^BenchmarkLeaderFailover$|1x|10m"
  "./test/bench|^BenchmarkPushToRunning$|1x|15m"
  "./test/bench|^BenchmarkWebPage$|1x|10m"
  "./test/bench|^BenchmarkScheduleAtScale$|1x|20m"
)

start=$SECONDS
for r in "${runs[@]}"; do
  IFS='|' read -r pkg re bt to <<<"$r"
  echo "bench: $pkg $re (-benchtime=$bt)" >&2
  # A failing benchmark is reported in the table; the run goes on.
  $GO test -run '^$' -bench "$re" -benchtime "$bt" -timeout "$to" "$pkg" >>"$out" 2>&1 ||
    echo "bench: $pkg $re failed (see $out)" >&2
done
echo "bench: all benchmarks ran in $((SECONDS - start)) s; raw output in $out" >&2
$GO run ./test/bench/cmd/benchtable <"$out"
