package chaos

import (
	"context"
	"sync"
	"time"

	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/chaos/model"
)

// observers are the soak's clients: one reads ?consistent (any server: a follower
// forwards to the leader), one per server reads that replica's own state. Each records
// every answered read with its real-time bounds; a failed read (timeout, no leader)
// has no output and is not recorded, as a client would retry it.
type observers struct {
	c    *cluster
	p    *pusher
	rec  *model.Recorder
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu    sync.Mutex
	reads int // answered reads, for the table
}

// readTimeout bounds one read: during a partition a consistent read may wait for a
// leader that is not there.
const readTimeout = 2 * time.Second

func startObservers(c *cluster, p *pusher, rec *model.Recorder) *observers {
	ctx, cancel := context.WithCancel(context.Background())
	o := &observers{c: c, p: p, rec: rec, stop: cancel}
	o.loop(ctx, func(ctx context.Context) { o.consistent(ctx, c.client()) })
	for _, s := range c.servers {
		o.loop(ctx, func(ctx context.Context) { o.replica(ctx, s, c.client(s)) })
	}
	return o
}

// loop runs read until ctx ends, pacing it so the soak's clients stay a small part of
// the machine's load.
func (o *observers) loop(ctx context.Context, read func(ctx context.Context)) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, readTimeout)
			read(rctx)
			cancel()
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
}

func (o *observers) count() {
	o.mu.Lock()
	o.reads++
	o.mu.Unlock()
}

// consistent reads the applied revision and raft index, then the pods, through the
// leader with ?consistent.
func (o *observers) consistent(ctx context.Context, cl *client.Client) {
	call := o.rec.Now()
	st, _, err := cl.StatusQuery(ctx, client.QueryOptions{Consistent: true})
	if err != nil {
		return
	}
	commit := ""
	if st.Applied != nil {
		commit = st.Applied.Commit
	}
	o.rec.Read(model.Consistent, call, o.rec.Now(), o.p.revOf(commit), st.Index)
	o.count()

	call = o.rec.Now()
	pods, _, err := cl.Pods(ctx, client.QueryOptions{Consistent: true})
	if err != nil {
		return
	}
	observed := make(map[string]int64, len(pods))
	for _, p := range pods {
		var t int64
		if !p.Status.ObservedAt.IsZero() {
			t = p.Status.ObservedAt.UnixNano()
		}
		observed[p.UID] = t
	}
	o.rec.Status(call, o.rec.Now(), observed)
	o.count()
}

// replica reads one server's own applied revision and index (no ?consistent). A
// read is recorded in the scope of the incarnation that answered it: one that spans a
// restart is dropped (the new incarnation may have started from nothing).
func (o *observers) replica(ctx context.Context, s *server, cl *client.Client) {
	before := o.c.scopeOf(s)
	call := o.rec.Now()
	st, err := cl.Status(ctx)
	ret := o.rec.Now()
	if err != nil || o.c.scopeOf(s) != before {
		return
	}
	commit := ""
	if st.Applied != nil {
		commit = st.Applied.Commit
	}
	o.rec.Read(before, call, ret, o.p.revOf(commit), st.Index)
	o.count()
}

// close stops the observers and returns how many reads they recorded.
func (o *observers) close() int {
	o.stop()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reads
}
