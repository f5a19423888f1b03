package bus

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// A server in operator mode (decentralised JWT authentication) takes a user's credentials file;
// a user of an account the operator did not sign is refused.
func TestConnectCredsFile(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	opub, _ := operator.PublicKey()
	oclaims := jwt.NewOperatorClaims(opub)
	if _, err := oclaims.Encode(operator); err != nil {
		t.Fatal(err)
	}
	account, _ := nkeys.CreateAccount()
	apub, _ := account.PublicKey()
	aclaims := jwt.NewAccountClaims(apub)
	aclaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := aclaims.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	// Operator mode wants a system account of the operator's.
	system, _ := nkeys.CreateAccount()
	spub, _ := system.PublicKey()
	sjwt, err := jwt.NewAccountClaims(spub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, claims := range map[string]string{apub: ajwt, spub: sjwt} {
		if err := resolver.Store(pub, claims); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oclaims}
		o.AccountResolver = resolver
		o.SystemAccount = spub
	})
	connectOK(t, "nats://"+hostPort(t, s), Auth{CredsFile: credsFile(t, account)})

	stranger, _ := nkeys.CreateAccount()
	connectRejected(t, "nats://"+hostPort(t, s), Auth{CredsFile: credsFile(t, stranger)}, "authorization violation")
}

// credsFile writes the credentials of a new user of account.
func credsFile(t *testing.T, account nkeys.KeyPair) string {
	t.Helper()
	user, _ := nkeys.CreateUser()
	upub, _ := user.PublicKey()
	useed, _ := user.Seed()
	ujwt, err := jwt.NewUserClaims(upub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(f, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
