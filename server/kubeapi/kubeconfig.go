package kubeapi

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// KubeconfigOptions describe the kubeconfig of one cluster.
type KubeconfigOptions struct {
	Name   string // cluster, user and context name (default "keelson")
	Server string // API URL (http:// or https://)
	// Token is the read credential; "" for a cluster whose read API is open. Never the
	// cluster token: that one lets its holder act as a node.
	Token string
	// CAFile is the cluster CA when the API is served over TLS ("" for the system
	// roots); its content is embedded so the file works anywhere.
	CAFile string
}

// kubeconfig mirrors the few fields of client-go's clientcmd v1 Config that are
// written (client-go is used only in tests).
type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
}

type namedCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
	} `json:"cluster"`
}

type namedUser struct {
	Name string `json:"name"`
	User struct {
		Token string `json:"token,omitempty"`
	} `json:"user"`
}

type namedContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster string `json:"cluster"`
		User    string `json:"user"`
	} `json:"context"`
}

// Kubeconfig renders a kubeconfig for kubectl, k9s, Lens and client-go.
func Kubeconfig(o KubeconfigOptions) ([]byte, error) {
	if o.Server == "" {
		return nil, fmt.Errorf("kubeconfig: no server URL")
	}
	if o.Name == "" {
		o.Name = "keelson"
	}
	var c namedCluster
	c.Name = o.Name
	c.Cluster.Server = o.Server
	if o.CAFile != "" {
		ca, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: CA: %w", err)
		}
		c.Cluster.CertificateAuthorityData = ca
	}
	var u namedUser
	u.Name = o.Name
	u.User.Token = o.Token
	var x namedContext
	x.Name = o.Name
	x.Context.Cluster, x.Context.User = o.Name, o.Name
	return yaml.Marshal(kubeconfig{
		APIVersion: "v1", Kind: "Config", Clusters: []namedCluster{c}, Users: []namedUser{u},
		Contexts: []namedContext{x}, CurrentContext: o.Name,
	})
}
