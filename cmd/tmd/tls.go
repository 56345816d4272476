package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tmcluster/tmcluster/server"
)

// tlsOptions are the mutual-TLS flags of tmd.
type tlsOptions struct {
	cert, key, ca string
	admins        []string
}

func (t *tlsOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "PEM certificate of this node, for its gRPC API, the Raft transport and its dials (its CommonName must be --id); empty: plaintext")
	fs.StringVar(&t.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&t.ca, "tls-ca", "", "PEM CA: every peer, client and participant must present a certificate it signed (mutual TLS)")
	fs.Func("admin-identities", "comma-separated certificate CommonNames allowed to change the cluster (members, leadership, participants); needs --tls-ca; empty: anyone", func(v string) error {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				t.admins = append(t.admins, id)
			}
		}
		return nil
	})
}

func (t *tlsOptions) check() error {
	switch {
	case (t.cert == "") != (t.key == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case t.ca != "" && t.cert == "":
		return errors.New("--tls-ca needs --tls-cert and --tls-key")
	case len(t.admins) > 0 && t.ca == "":
		return errors.New("--admin-identities needs --tls-ca: callers are identified by their client certificate")
	}
	return nil
}

// transport is what the TLS flags set up: nil config means plaintext.
type transport struct {
	config *tls.Config
}

// load reads the certificate files. With a CA, the node's certificate must
// name its id: peers trust calls forwarded by a node identity (see
// server/auth.go).
func (t *tlsOptions) load(nodeID string) (transport, error) {
	if t.cert == "" {
		return transport{}, nil
	}
	cfg, err := server.LoadTLSConfig(t.cert, t.key, t.ca)
	if err != nil {
		return transport{}, err
	}
	if t.ca != "" {
		cn, err := server.CertificateIdentity(cfg)
		if err != nil {
			return transport{}, err
		}
		if cn != nodeID {
			return transport{}, fmt.Errorf("--tls-cert names %q but --id is %q: a node's certificate CommonName must be its id", cn, nodeID)
		}
	}
	return transport{config: cfg}, nil
}

// serverOptions are the grpc.Server's credentials.
func (tr transport) serverOptions() []grpc.ServerOption {
	if tr.config == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(tr.config.Clone()))}
}

// dialOptions are used for participants, peers and --join.
func (tr transport) dialOptions() []grpc.DialOption {
	if tr.config == nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tr.config.Clone()))}
}

// raft is the Raft transport's TLS config (nil: plain TCP).
func (tr transport) raft() *tls.Config {
	if tr.config == nil {
		return nil
	}
	return tr.config.Clone()
}
