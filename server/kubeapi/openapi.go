package kubeapi

import (
	"net/http"

	"google.golang.org/protobuf/encoding/protowire"
)

// openAPIv2 is an OpenAPI v2 document (gnostic's protobuf form, which kubectl asks
// for) with no definitions. kubectl apply/create/replace validate manifests against
// the server's OpenAPI before they send anything; with no document at all they stop
// with "failed to download openapi" before the write, and the user never sees the
// 405 that says to commit to Git. With no schema for a kind, kubectl skips that
// validation and sends the write, which is then refused. OpenAPI v3 is not served
// (kubectl falls back to v2); `kubectl explain` therefore has nothing to explain.
var openAPIv2 = func() []byte {
	var info []byte
	info = protowire.AppendTag(info, 1, protowire.BytesType) // title
	info = protowire.AppendString(info, "Keelson (read-only)")
	info = protowire.AppendTag(info, 2, protowire.BytesType) // version
	info = protowire.AppendString(info, kubeVersion)
	var doc []byte
	doc = protowire.AppendTag(doc, 1, protowire.BytesType) // swagger
	doc = protowire.AppendString(doc, "2.0")
	doc = protowire.AppendTag(doc, 2, protowire.BytesType) // info
	return protowire.AppendBytes(doc, info)
}()

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/openapi/v2" {
		writeStatus(w, notFound("OpenAPI v3 is not served by Keelson; see /openapi/v2"))
		return
	}
	w.Header().Set("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
	_, _ = w.Write(openAPIv2)
}
