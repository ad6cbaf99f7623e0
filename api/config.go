package api

// PathConfig serves the reconciler configuration the cluster runs with (read API).
const PathConfig = "/v1/config" // GET → ReconcilerConfig

// ReconcilerConfig is the reconciler configuration a server runs with, as the read API
// publishes it, so `keelson plan --server` previews with the cluster's own service
// range, pod network, timeouts and batch size instead of the defaults. Durations are
// Go duration strings ("10s").
type ReconcilerConfig struct {
	NodeGracePeriod  string `json:"nodeGracePeriod"`
	EvictionTimeout  string `json:"evictionTimeout"`
	ServiceCIDR      string `json:"serviceCIDR"`
	ClusterCIDR      string `json:"clusterCIDR"`
	NodeCIDRMaskSize int    `json:"nodeCIDRMaskSize"`
	NodePortMin      int32  `json:"nodePortMin"`
	NodePortMax      int32  `json:"nodePortMax"`
	MaxPodsPerBatch  int    `json:"maxPodsPerBatch"`
	MaxPodsPerNode   int    `json:"maxPodsPerNode"`
}
