package bus

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

// Secrets are the node's generated credentials, kept in the data directory across restarts.
type Secrets struct {
	NATSPort     int    `json:"natsPort"`
	NATSUser     string `json:"natsUser"`
	NATSPassword string `json:"natsPassword"`
	Token        string `json:"apiToken"`
}

const secretsFile = "secrets.json"

// LoadSecrets reads the node's credentials from dataDir, creating them on first use.
func LoadSecrets(dataDir string) (Secrets, error) {
	path := filepath.Join(dataDir, secretsFile)
	var s Secrets
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("read %s: %w", path, err)
		}
		if s.NATSUser != "" && s.NATSPassword != "" && s.Token != "" {
			return s, nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return s, fmt.Errorf("read secrets: %w", err)
	}
	s = Secrets{NATSUser: "sluice", NATSPassword: randomHex(24), Token: randomHex(32)}
	return s, SaveSecrets(dataDir, s)
}

// SaveSecrets writes the node's credentials to dataDir with mode 0600.
func SaveSecrets(dataDir string, s Secrets) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	b, _ := json.MarshalIndent(s, "", "  ") // plain struct of strings and ints
	tmp := filepath.Join(dataDir, secretsFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, secretsFile)); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv *server.Server
	url string
}

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	DataDir  string // JetStream store at DataDir/nats
	Host     string // default 127.0.0.1
	MaxStore int64  // JetStream's max file store (SizeStore); 0: NATS's default, 3/4 of the free disk
	Logger   *slog.Logger
}

// storeDir is the JetStream store's folder under the data folder.
const storeDir = "nats"

// StartEmbedded starts the node's NATS server. It reuses the port of the previous start when that
// port is free, so SLUICE_NATS_URL stays the same across restarts.
func StartEmbedded(o EmbeddedOptions, s *Secrets) (*Embedded, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := s.NATSPort
	if port == 0 || !portFree(o.Host, port) {
		p, err := freePort(o.Host)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		port = p
	}
	opts := &server.Options{
		ServerName: "sluice",
		Host:       o.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, storeDir),
		Username:   s.NATSUser,
		Password:   s.NATSPassword,
		MaxPayload: events.MaxPayload + 64<<10,
		NoSigs:     true,
		NoLog:      true,
	}
	if o.MaxStore > 0 {
		opts.JetStreamMaxStore = o.MaxStore
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready within 30s")
	}
	if s.NATSPort != port {
		s.NATSPort = port
		if err := SaveSecrets(o.DataDir, *s); err != nil {
			srv.Shutdown()
			return nil, err
		}
	}
	u := url.URL{Scheme: "nats", User: url.UserPassword(s.NATSUser, s.NATSPassword), Host: net.JoinHostPort(o.Host, strconv.Itoa(port))}
	return &Embedded{srv: srv, url: u.String()}, nil
}

// InProcess is the connection option that reaches this server without a socket, for the roles
// running in the same process.
func (e *Embedded) InProcess() nats.Option { return nats.InProcessServer(e.srv) }

// URL is the server's client URL with credentials.
func (e *Embedded) URL() string { return e.url }

// Shutdown stops the server and waits for it; JetStream data is flushed to disk.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
