// Package bench holds Keelson's product-level benchmarks: the figures users feel
// (scheduling at scale, leader failover, node loss, push-to-running, memory), measured
// on real servers, real raft with fsync and real Git, and reported with
// b.ReportMetric so scripts/bench.sh can print them next to their anchors. The code is
// all in _test.go files; this file only documents the package. Run the heavy ones
// with -benchtime=1x: each iteration is a full measurement.
package bench
