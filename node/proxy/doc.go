// Package proxy makes Services reachable on a node: traffic to a Service's ClusterIP:port
// (and to the node's NodePort) is forwarded to one of the Service's ready endpoints.
//
// Two data paths implement the agent's ServiceProxy interface:
//
//   - NFTables (the default): a single nftables table ("ip keelson") of DNAT rules,
//     programmed incrementally through netlink. The kernel forwards packets; conntrack
//     keeps established connections on their endpoint whatever the rules later say.
//   - Userspace (fallback for machines without nftables): listeners on the ClusterIP
//     (bound as a /32 on lo) and on the node address's NodePort that copy bytes to a
//     chosen endpoint.
//
// Both compute the same model (model.go) from the replicated records, so they agree on
// which endpoints are eligible (ready only), how ports are matched and how ClientIP
// affinity behaves. Headless and ExternalName services get no proxy.
package proxy
