package gitsource

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Over real TCP: a declared Content-Length over the limit is refused before one byte
// of the body is sent; a chunked body (no length) is cut at the limit.
func TestWebhookRefusesOversizedBodiesEarly(t *testing.T) {
	triggered := make(chan struct{}, 1)
	srv := httptest.NewServer(WebhookHandler([]byte("s3cret"), func() { triggered <- struct{}{} }, nil))
	defer srv.Close()

	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Headers only: the 2 MiB body never comes, so only an early answer arrives.
	fmt.Fprintf(conn, "POST /v1/hooks/git HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: %d\r\n\r\n", 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "payload too large") {
		t.Fatalf("declared 2 MiB: %d %q, want 413", resp.StatusCode, body)
	}

	// Chunked, no Content-Length: read up to the limit, then refused.
	big := strings.Repeat("x", MaxWebhookBody+1)
	req, err := http.NewRequest("POST", srv.URL+"/v1/hooks/git", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign("s3cret", big))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Fatalf("chunked 1 MiB + 1: %d (length %d), want 413", resp.StatusCode, req.ContentLength)
	}
	// A signed body at the limit still triggers.
	ok := strings.Repeat("x", MaxWebhookBody)
	req, _ = http.NewRequest("POST", srv.URL+"/v1/hooks/git", strings.NewReader(ok))
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign("s3cret", ok))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed body of exactly 1 MiB: %d, want 202", resp.StatusCode)
	}
	select {
	case <-triggered:
	default:
		t.Fatal("the valid hook did not trigger")
	}
}
