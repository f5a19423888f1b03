package cli

import (
	"strconv"

	"github.com/spf13/cobra"
)

// Variables of the bus connection of `serve`, each the default of its flag.
const (
	EnvNATSToken = "SLUICE_NATS_TOKEN"
	EnvNATSCreds = "SLUICE_NATS_CREDS"
	EnvNATSNKey  = "SLUICE_NATS_NKEY"
	EnvNATSCA    = "SLUICE_NATS_CA"
	EnvNATSCert  = "SLUICE_NATS_CERT"
	EnvNATSKey   = "SLUICE_NATS_KEY"
	EnvReplicas  = "SLUICE_REPLICAS"
)

// maxReplicas is JetStream's limit on the replicas of a stream.
const maxReplicas = 5

// NATSAuth is how a role authenticates to an external bus beside a user and password in the URL.
type NATSAuth struct {
	Token     string
	CredsFile string
	NKeyFile  string
	CAFile    string
	CertFile  string
	KeyFile   string
}

type natsFlags struct {
	auth     NATSAuth
	replicas string
}

// addNATSFlags adds the bus credentials, TLS and replica flags to serve.
func addNATSFlags(cmd *cobra.Command, f *natsFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.auth.Token, "nats-token", "", "token the bus requires (default $"+EnvNATSToken+"; prefer the variable, flags show in ps)")
	fl.StringVar(&f.auth.CredsFile, "nats-creds", "", "NATS credentials file, user JWT and seed (default $"+EnvNATSCreds+")")
	fl.StringVar(&f.auth.NKeyFile, "nats-nkey", "", "file holding an NKey user seed (default $"+EnvNATSNKey+")")
	fl.StringVar(&f.auth.CAFile, "nats-ca", "", "PEM CA that signs the NATS servers' certificates; turns TLS on (default $"+EnvNATSCA+")")
	fl.StringVar(&f.auth.CertFile, "nats-cert", "", "PEM client certificate for NATS servers that verify clients, with --nats-key (default $"+EnvNATSCert+")")
	fl.StringVar(&f.auth.KeyFile, "nats-key", "", "PEM key of --nats-cert (default $"+EnvNATSKey+")")
	fl.StringVar(&f.replicas, "replicas", "", "replicas of every stream, bucket and object store: 1 on one server, 3 on a cluster (default $"+EnvReplicas+", else what the bus has, 1 on a new bus)")
}

// natsOptions resolves the flags over the environment. A replica count that is not a number from
// 1 to 5 is a usage error; none is 0, for the bus to keep what it has.
func (a *app) natsOptions(f natsFlags) (NATSAuth, int, error) {
	or := func(flag *string, env string) {
		if *flag == "" {
			*flag = a.getenv(env)
		}
	}
	auth := f.auth
	or(&auth.Token, EnvNATSToken)
	or(&auth.CredsFile, EnvNATSCreds)
	or(&auth.NKeyFile, EnvNATSNKey)
	or(&auth.CAFile, EnvNATSCA)
	or(&auth.CertFile, EnvNATSCert)
	or(&auth.KeyFile, EnvNATSKey)
	if (auth.CertFile == "") != (auth.KeyFile == "") {
		return auth, 0, usagef("--nats-cert and --nats-key go together")
	}
	replicas := 0
	s := f.replicas
	or(&s, EnvReplicas)
	if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxReplicas {
			return auth, 0, usagef("--replicas / %s %q: use a number from 1 to %d (3 on a cluster)", EnvReplicas, s, maxReplicas)
		}
		replicas = n
	}
	return auth, replicas, nil
}
