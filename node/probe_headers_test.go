package node

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// httpHeaders reach the container, a Host header as the request's host.
func TestHTTPProbeHeaders(t *testing.T) {
	var host, custom string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, custom = r.Host, r.Header.Get("X-Custom")
		if custom != "yes" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	pr := NewProber(nil)
	probe := func(headers ...corev1.HTTPHeader) error {
		return pr.Probe(context.Background(), ProbeTarget{PodIP: "127.0.0.1"}, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port)), HTTPHeaders: headers}}})
	}
	if err := probe(corev1.HTTPHeader{Name: "X-Custom", Value: "yes"}, corev1.HTTPHeader{Name: "Host", Value: "app.example"}); err != nil {
		t.Fatalf("probe with headers: %v", err)
	}
	if host != "app.example" || custom != "yes" {
		t.Errorf("server saw Host %q, X-Custom %q", host, custom)
	}
	if err := probe(); err == nil {
		t.Error("the probe passed without the header the server requires")
	}
}
