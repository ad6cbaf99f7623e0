package node

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

// The gRPC probe against a real grpc-go health server on loopback.
func TestGRPCProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	probe := func(service string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g := &corev1.GRPCAction{Port: port}
		if service != "" {
			g.Service = &service
		}
		return grpcProbe(ctx, "127.0.0.1", g)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if err := probe(""); err != nil {
		t.Errorf("serving: %v", err)
	}
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := probe("db"); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("not serving: %v", err)
	}
	if err := probe("unknown"); err == nil {
		t.Error("an unknown service passed")
	}
	srv.Stop()
	if err := probe(""); err == nil {
		t.Error("a stopped server passed")
	}
}
