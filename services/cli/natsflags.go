package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"sluice.dev/services/bus"
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

// addNATSFlags binds serve's bus credential and TLS flags to auth, and --replicas to replicas (a
// string until natsOptions checks it).
func addNATSFlags(cmd *cobra.Command, auth *bus.Auth, replicas *string) {
	fl := cmd.Flags()
	fl.StringVar(&auth.Token, "nats-token", "", "token the bus requires (default $"+EnvNATSToken+"; prefer the variable, flags show in ps)")
	fl.StringVar(&auth.CredsFile, "nats-creds", "", "NATS credentials file, user JWT and seed (default $"+EnvNATSCreds+")")
	fl.StringVar(&auth.NKeyFile, "nats-nkey", "", "file holding an NKey user seed (default $"+EnvNATSNKey+")")
	fl.StringVar(&auth.CAFile, "nats-ca", "", "PEM CA that signs the NATS servers' certificates; turns TLS on (default $"+EnvNATSCA+")")
	fl.StringVar(&auth.CertFile, "nats-cert", "", "PEM client certificate for NATS servers that verify clients, with --nats-key (default $"+EnvNATSCert+")")
	fl.StringVar(&auth.KeyFile, "nats-key", "", "PEM key of --nats-cert (default $"+EnvNATSKey+")")
	fl.StringVar(replicas, "replicas", "", "replicas of every stream, bucket and object store: 1 on one server, 3 on a cluster (default $"+EnvReplicas+", else what the bus has, 1 on a new bus)")
}

// natsOptions completes auth, filled by addNATSFlags, with the environment where a flag was not
// given, and returns the replica count. Half a client certificate is a usage error, and so is
// a replica count that is not a number from 1 to 5; none is 0, for the bus to keep what it has.
func (a *app) natsOptions(auth *bus.Auth, replicas string) (int, error) {
	or := func(flag *string, env string) {
		if *flag == "" {
			*flag = a.getenv(env)
		}
	}
	or(&auth.Token, EnvNATSToken)
	or(&auth.CredsFile, EnvNATSCreds)
	or(&auth.NKeyFile, EnvNATSNKey)
	or(&auth.CAFile, EnvNATSCA)
	or(&auth.CertFile, EnvNATSCert)
	or(&auth.KeyFile, EnvNATSKey)
	if (auth.CertFile == "") != (auth.KeyFile == "") {
		return 0, usagef("--nats-cert and --nats-key go together")
	}
	or(&replicas, EnvReplicas)
	if replicas == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(replicas)
	if err != nil || n < 1 || n > maxReplicas {
		return 0, usagef("--replicas / %s %q: use a number from 1 to %d (3 on a cluster)", EnvReplicas, replicas, maxReplicas)
	}
	return n, nil
}
