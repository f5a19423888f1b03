package bus

import (
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// ErrBadAuth is a credentials or TLS setting that cannot work: a missing file, half a client
// certificate, two ways to authenticate at once.
var ErrBadAuth = errors.New("bad bus credentials")

// Auth is how a role proves itself to an external bus beside a user and password in the URL:
// a token, a credentials (JWT) file or an NKey seed file, and TLS with a CA and optionally a client
// certificate. The zero value adds nothing.
type Auth struct {
	Token     string // --nats-token, SLUICE_NATS_TOKEN
	CredsFile string // --nats-creds, SLUICE_NATS_CREDS: a .creds file (user JWT and NKey seed)
	NKeyFile  string // --nats-nkey, SLUICE_NATS_NKEY: a file holding an NKey user seed
	CAFile    string // --nats-ca, SLUICE_NATS_CA: PEM roots that sign the servers' certificates
	CertFile  string // --nats-cert, SLUICE_NATS_CERT: PEM client certificate (with KeyFile)
	KeyFile   string // --nats-key, SLUICE_NATS_KEY: PEM key of the client certificate
}

// Options turns the settings into connection options. It checks that the files exist and that
// the settings fit together, so a mistake stops the role at start with an error wrapping
// ErrBadAuth rather than at its first connection attempt.
func (a Auth) Options() ([]nats.Option, error) {
	var opts []nats.Option
	ways := 0
	for _, set := range []bool{a.Token != "", a.CredsFile != "", a.NKeyFile != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		return nil, fmt.Errorf("%w: give one of --nats-token, --nats-creds and --nats-nkey", ErrBadAuth)
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		return nil, fmt.Errorf("%w: --nats-cert and --nats-key go together", ErrBadAuth)
	}
	for _, f := range []struct{ flag, path string }{
		{"--nats-creds", a.CredsFile}, {"--nats-nkey", a.NKeyFile}, {"--nats-ca", a.CAFile},
		{"--nats-cert", a.CertFile}, {"--nats-key", a.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadAuth, f.flag, err)
		}
	}
	switch {
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	case a.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --nats-nkey: %w", ErrBadAuth, err)
		}
		opts = append(opts, o)
	}
	if a.CAFile != "" {
		opts = append(opts, nats.RootCAs(a.CAFile))
	}
	if a.CertFile != "" {
		opts = append(opts, nats.ClientCert(a.CertFile, a.KeyFile))
	}
	return opts, nil
}
