package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/pki"
)

// newReaderCertCmd builds `keelson reader-cert`: a reader client certificate for a
// person or tool, signed with the CA key in a server's data dir (so it runs on a
// server, as root). The certificate may read, nothing else.
func newReaderCertCmd() *cobra.Command {
	var dataDir, out string
	cmd := &cobra.Command{
		Use:   "reader-cert NAME",
		Short: "Issue a read-only client certificate (run on a server: it needs the CA key)",
		Long: "Writes OUT/tls.crt, OUT/tls.key and OUT/ca.crt; use them with\n" +
			"KEELSON_CERT_FILE, KEELSON_KEY_FILE and KEELSON_CA_FILE instead of a read token.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" || out == "" {
				return usageError(errors.New("--data-dir and --out are required"))
			}
			ca, err := pki.LoadCA(pki.ServerFiles{DataDir: dataDir}.TLSDir())
			if err != nil {
				return err
			}
			certPEM, keyPEM, err := ca.IssueKeyPair(pki.RoleReader, args[0], nil)
			if err != nil {
				return err
			}
			if err := pki.SaveKeyPair(out, certPEM, keyPEM); err != nil {
				return err
			}
			if err := pki.WriteSecret(filepath.Join(out, pki.CACertFile), ca.CertPEM); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "export KEELSON_CA_FILE=%s KEELSON_CERT_FILE=%s KEELSON_KEY_FILE=%s\n",
				filepath.Join(out, pki.CACertFile), filepath.Join(out, pki.CertFile), filepath.Join(out, pki.KeyFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the server's --data-dir (holds tls/ca.key)")
	cmd.Flags().StringVar(&out, "out", "", "directory for the certificate, key and CA")
	return cmd
}
