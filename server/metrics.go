package server

import (
	"net/http"
	"time"

	"github.com/keelson/keelson/raftstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live in a registry per server (never the global default one), so several
// servers in one test process do not collide.
type metrics struct {
	reg          *prometheus.Registry
	applySeconds *prometheus.HistogramVec
	commands     *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpSeconds  *prometheus.HistogramVec
	actions      *prometheus.CounterVec
	isLeader     prometheus.Gauge
}

func newMetrics(store *raftstore.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keelson_raft_apply_seconds", Help: "Time to commit and apply a raft command on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"type"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keelson_raft_commands_total", Help: "Raft commands submitted by this server, by type and result.",
		}, []string{"type", "result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keelson_http_requests_total", Help: "HTTP API requests by route and status code.",
		}, []string{"route", "code"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keelson_http_request_seconds", Help: "HTTP API request duration (blocking queries included).",
		}, []string{"route"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keelson_reconcile_actions_total", Help: "Reconciler decisions committed, by action type.",
		}, []string{"action"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keelson_raft_leader", Help: "1 while this server runs the leader's duties.",
		}),
	}
	m.reg.MustRegister(m.applySeconds, m.commands, m.httpRequests, m.httpSeconds, m.actions, m.isLeader,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keelson_raft_applied_index", Help: "Raft index of the last entry applied to this server's state.",
		}, func() float64 { return float64(store.AppliedIndex()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) observeApply(typ string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		m.applySeconds.WithLabelValues(typ).Observe(d.Seconds())
	}
	m.commands.WithLabelValues(typ, result).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
