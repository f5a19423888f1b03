package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

// startServer runs a JetStream server on a free loopback port with a temporary store, set up by
// configure (credentials, TLS), until the test ends.
func startServer(t *testing.T, configure func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	configure(o)
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// hostPort is the server's client address.
func hostPort(t *testing.T, s *server.Server) string {
	t.Helper()
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// connectOK connects with the given URL and auth and checks that the bus was made on the server.
func connectOK(t *testing.T, rawURL string, a Auth) {
	t.Helper()
	opts, err := a.Options()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, rawURL, "test", events.BusOptions{}, slog.Default(), opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", rawURL, err)
	}
	defer c.Close()
	if _, err := c.JS.Stream(ctx, events.StreamInvoke); err != nil {
		t.Fatalf("stream after connect: %v", err)
	}
}

// connectRejected requires Connect to fail at once with ErrRejected and an error that says why.
func connectRejected(t *testing.T, rawURL string, a Auth, why string) {
	t.Helper()
	opts, err := a.Options()
	if err != nil {
		t.Fatal(err)
	}
	// A rejection must not be retried: the deadline is far beyond what one attempt takes, and
	// hitting it would show up as context.DeadlineExceeded rather than ErrRejected.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, rawURL, "test", events.BusOptions{}, slog.Default(), opts...)
	if err == nil {
		c.Close()
		t.Fatalf("connect %s: connected, want a rejection", rawURL)
	}
	if !errors.Is(err, ErrRejected) || !strings.Contains(strings.ToLower(err.Error()), why) {
		t.Fatalf("connect %s: want ErrRejected saying %q, got %v", rawURL, why, err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestConnectUserPasswordAndToken(t *testing.T) {
	users := startServer(t, func(o *server.Options) { o.Username, o.Password = "sluice", "s3cret" })
	connectOK(t, "nats://sluice:s3cret@"+hostPort(t, users), Auth{})
	connectRejected(t, "nats://sluice:wrong-s3cret@"+hostPort(t, users), Auth{}, "authorization violation")
	connectRejected(t, "nats://"+hostPort(t, users), Auth{}, "authorization violation")

	tokens := startServer(t, func(o *server.Options) { o.Authorization = "t0ken" })
	connectOK(t, "nats://"+hostPort(t, tokens), Auth{Token: "t0ken"})
	connectRejected(t, "nats://"+hostPort(t, tokens), Auth{Token: "other"}, "authorization violation")
}

func TestConnectNKey(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	connectOK(t, "nats://"+hostPort(t, s), Auth{NKeyFile: seedFile})

	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	strangerFile := filepath.Join(t.TempDir(), "stranger.nk")
	if err := os.WriteFile(strangerFile, strangerSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	connectRejected(t, "nats://"+hostPort(t, s), Auth{NKeyFile: strangerFile}, "authorization violation")
}

func TestConnectTLSWithClientCertificate(t *testing.T) {
	dir := t.TempDir()
	p := bustest.NewPKI(t, dir)
	s := startServer(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLSVerify, o.TLSTimeout = tc, true, 5
		o.Username, o.Password = "sluice", "s3cret"
	})
	addr := hostPort(t, s)
	connectOK(t, "tls://sluice:s3cret@"+addr, Auth{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey})

	// A CA that did not sign the server's certificate.
	other := bustest.NewPKI(t, t.TempDir())
	connectRejected(t, "tls://sluice:s3cret@"+addr, Auth{CAFile: other.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}, "certificate")
	// No client certificate for a server that verifies clients.
	connectRejected(t, "tls://sluice:s3cret@"+addr, Auth{CAFile: p.CA}, "certificate")
}

// signalWriter closes seen the first time a write contains want.
type signalWriter struct {
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func TestConnectWaitsForAServer(t *testing.T) {
	// A port with no server yet: Connect keeps trying until one listens there.
	probe := startServer(t, func(*server.Options) {})
	addr := hostPort(t, probe)
	probe.Shutdown()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w := &signalWriter{want: "bus unreachable; retrying", seen: make(chan struct{})}
	type connected struct {
		c   *Conn
		err error
	}
	done := make(chan connected, 1)
	go func() {
		c, err := Connect(ctx, "nats://"+addr, "test", events.BusOptions{}, slog.New(slog.NewTextHandler(w, nil)))
		done <- connected{c, err}
	}()
	select {
	case <-w.seen: // Connect failed once and said so; now the server comes.
	case r := <-done:
		t.Fatalf("connect returned before a server listened: %+v", r)
	case <-ctx.Done():
		t.Fatal("connect logged no retry")
	}
	startServer(t, func(o *server.Options) { o.Port = port })
	r := <-done
	if r.err != nil {
		t.Fatalf("connect once the server is up: %v", r.err)
	}
	r.c.Close()
}

func TestConnectRefusesReplicasBeyondOneServer(t *testing.T) {
	s := startServer(t, func(*server.Options) {})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, "nats://"+hostPort(t, s), "test", events.BusOptions{Replicas: 3}, slog.Default())
	if err == nil {
		c.Close()
		t.Fatal("replicas 3 on one server: connected")
	}
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "--replicas") {
		t.Fatalf("replicas 3 on one server: %v", err)
	}
}

func TestAuthOptionsCheckSettings(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Auth{
		{Token: "t", CredsFile: f},
		{CertFile: f},
		{KeyFile: f},
		{CAFile: filepath.Join(t.TempDir(), "missing.pem")},
		{NKeyFile: f}, // not a seed
	} {
		if _, err := a.Options(); !errors.Is(err, ErrBadAuth) {
			t.Errorf("%+v: want ErrBadAuth, got %v", a, err)
		}
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	got := redact("nats://u:pw@a:4222, nats://tok@b:4222,nats://c:4222")
	if strings.Contains(got, "pw") || strings.Contains(got, "tok") || !strings.Contains(got, "u:xxxxx@a:4222") || !strings.Contains(got, "nats://c:4222") {
		t.Fatalf("redact: %s", got)
	}
}

// lockedBuffer collects log output; safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog polls the log until it contains want.
func waitLog(t *testing.T, logs *lockedBuffer, want string) {
	t.Helper()
	testkit.EventuallyEvery(t, 20*time.Second, 20*time.Millisecond, func() error {
		if log := logs.String(); !strings.Contains(log, want) {
			return fmt.Errorf("no %q in the log:\n%s", want, log)
		}
		return nil
	})
}

func TestConnectionComesBackAndSaysSo(t *testing.T) {
	first := startServer(t, func(o *server.Options) { o.Username, o.Password = "sluice", "s3cret" })
	addr := hostPort(t, first)
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	logs := &lockedBuffer{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, "nats://sluice:s3cret@"+addr, "test", events.BusOptions{}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	first.Shutdown()
	waitLog(t, logs, "bus connection lost")
	waitLog(t, logs, "bus reconnect attempt failed")
	startServer(t, func(o *server.Options) { o.Port = port; o.Username, o.Password = "sluice", "s3cret" })
	waitLog(t, logs, "bus reconnected")
	if !c.NC.IsConnected() {
		t.Fatal("not connected after the reconnect was logged")
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("the log shows the password:\n%s", logs.String())
	}
}
