package raftstore

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keelson/keelson/pki"
)

// BenchmarkSnapshotRestore100k measures one replica's snapshot at 100,000 Running pods
// on 5,000 nodes: Persist (streamed into memory), its size, Restore into a fresh FSM
// (b.Loop), and the live heap of the restored state.
func BenchmarkSnapshotRestore100k(b *testing.B) {
	f := loadScale(b, scaleCommands(b, true))
	start := time.Now()
	snap, err := f.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		b.Fatal(err)
	}
	persist := time.Since(start)
	data := sink.Bytes()
	want := f.State().Hash()
	f = nil
	base := liveHeap()
	var g *FSM
	b.ResetTimer()
	for b.Loop() {
		g = NewFSM(nil, 0)
		if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	heap := liveHeap() - base
	if g.State().Hash() != want {
		b.Fatal("restored state differs")
	}
	runtime.KeepAlive(g)
	b.ReportMetric(float64(persist.Milliseconds()), "ms/persist")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/restore")
	b.ReportMetric(float64(len(data))/(1<<20), "MB/snapshot")
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap/restored")
}

// BenchmarkRestart100k measures restart-to-serving of one server (bolt log with fsync,
// file snapshots, TLS transport, raft's default timeouts) holding 100,000 Running pods:
// the state is written through raft, a snapshot taken, then status reports for every
// pod are written after it (the log a restart replays, below the 64 MiB compaction
// bound). The clock runs from Open until the server leads and has applied everything
// it had committed before it stopped: restore the snapshot, replay, elect itself.
func BenchmarkRestart100k(b *testing.B) {
	dir := b.TempDir()
	ca := testCA(b)
	addr := freeAddr(b)
	cfg := Config{ID: "s0", DataDir: filepath.Join(dir, "s0"), BindAddr: addr, Bootstrap: true,
		Peers: []Peer{{ID: "s0", Addr: addr}}, TLS: testTLS(b, ca, pki.RoleServer, "s0")}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, 30*time.Second, "a leader", s.IsLeader)
	applyAll(b, s, scaleCommands(b, true), 16)
	if err := s.TakeSnapshot(); err != nil {
		b.Fatal(err)
	}
	tail := statusEntries(b)
	applyAll(b, s, tail, 1)
	replay := 0
	for _, e := range tail {
		replay += len(e)
	}
	last := s.AppliedIndex()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		s, err = Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, 5*time.Minute, "serving after restart", func() bool { return s.IsLeader() && s.AppliedIndex() >= last })
		total += time.Since(start)
		b.StopTimer()
		if n := len(s.Snapshot().Pods()); n != scalePods {
			b.Fatalf("%d pods after restart, want %d", n, scalePods)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-restart-to-serving")
	b.ReportMetric(float64(replay)/(1<<20), "MB-replayed")
	b.ReportMetric(float64(snapshotSize(b, cfg.DataDir))/(1<<20), "MB/snapshot")
}

// statusEntries returns the scale run's status reports (one entry per 1,000 pods).
func statusEntries(tb testing.TB) [][]byte {
	all := scaleCommands(tb, false)
	var out [][]byte
	for _, e := range all {
		if MessageType(e[0]) == ReportPodStatusType {
			out = append(out, e)
		}
	}
	return out
}

// applyAll writes entries through raft with the given number of concurrent writers
// (entries of different writers may commit in any order).
func applyAll(tb testing.TB, s *Store, entries [][]byte, writers int) {
	tb.Helper()
	ch := make(chan []byte)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range ch {
				f := s.raft.Apply(e, time.Minute)
				if err := f.Error(); err != nil {
					errs <- err
					return
				}
				if rerr, ok := f.Response().(error); ok {
					errs <- rerr
					return
				}
			}
		}()
	}
	for _, e := range entries {
		ch <- e
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		tb.Fatal(err)
	default:
	}
	if err := s.Barrier(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func snapshotSize(tb testing.TB, dataDir string) int64 {
	tb.Helper()
	snaps, err := raft.NewFileSnapshotStore(dataDir, 1, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		tb.Fatalf("no snapshot in %s: %v", dataDir, err)
	}
	return list[0].Size
}
