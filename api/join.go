package api

// Trust bootstrap endpoints: how a server or an agent without a certificate gets one.
const (
	// PathCA serves the cluster CA certificate (PEM) to anyone: a joiner compares its
	// hash with the pin in its K10 token before it sends any secret.
	PathCA = "/v1/ca"
	// PathServerCredentials: POST with the server-join secret as bearer token →
	// ServerCredentials. Only a server about to join raft needs them.
	PathServerCredentials = "/v1/server/credentials"
	// PathNodeJoin: POST NodeJoin with a node-join token as bearer token → NodeJoined.
	PathNodeJoin = "/v1/node/join"
)

// ServerCredentials is what a joining server needs to serve and, later, lead: the CA
// (it signs node certificates and its own) and copies of the token files.
type ServerCredentials struct {
	CACert       string `json:"caCert"`
	CAKey        string `json:"caKey"`
	ServerTokens string `json:"serverTokens"`
	NodeTokens   string `json:"nodeTokens"`
	ReadTokens   string `json:"readTokens"`
}

// NodeJoin asks for a node certificate: CSR is a PEM certificate request whose key
// the agent keeps; Hosts become the SANs of the agent's log endpoint.
type NodeJoin struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts,omitempty"`
	CSR   string   `json:"csr"`
}

// NodeJoined is the signed node certificate (CN = node name) and the CA.
type NodeJoined struct {
	Cert   string `json:"cert"`
	CACert string `json:"caCert"`
}
