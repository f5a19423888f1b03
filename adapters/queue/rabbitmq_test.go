package queue_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitBin is Debian's RabbitMQ start script (the one in /usr/sbin switches to the rabbitmq
// user and its system-wide directories).
const rabbitBin = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// rabbit is one RabbitMQ node for the whole package, started on first use (it takes seconds)
// and stopped by TestMain.
var rabbit struct {
	once sync.Once
	url  string // amqp://guest:guest@127.0.0.1:PORT
	err  error
	stop func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rabbit.stop != nil {
		rabbit.stop()
	}
	os.Exit(code)
}

// rabbitURL returns the package's RabbitMQ node, starting it once. Without rabbitmq-server the
// test is skipped, except in CI, where it fails.
func rabbitURL(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(rabbitBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("rabbitmq-server is not installed (apt-get install rabbitmq-server): %v", err)
		}
		t.Skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
	}
	rabbit.once.Do(func() { rabbit.url, rabbit.stop, rabbit.err = startRabbit() })
	if rabbit.err != nil {
		t.Fatal(rabbit.err)
	}
	return rabbit.url
}

// startRabbit runs a private RabbitMQ node: its own loopback ports (AMQP, distribution, epmd),
// node name, data, log and cookie directories; ready once an AMQP handshake succeeds.
func startRabbit() (string, func(), error) {
	dir, err := os.MkdirTemp("", "sluice-rabbitmq-")
	if err != nil {
		return "", nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	amqpPort, distPort, epmdPort := ports[0], ports[1], ports[2]
	env := append(os.Environ(),
		"HOME="+dir, // the Erlang cookie
		"RABBITMQ_NODENAME=sluicetest"+strconv.Itoa(os.Getpid())+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
	)
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(rabbitBin)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start rabbitmq-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck // may be gone
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // may be gone
			<-exited
		}
		// The node started an epmd daemon of its own on epmdPort; end it too.
		kill := exec.Command("epmd", "-kill")
		kill.Env = env
		kill.Run() //nolint:errcheck // it may have gone with the node
		out.Close()
		os.RemoveAll(dir)
	}
	url := fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d", amqpPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := amqp.DialConfig(url+"/", amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			conn.Close()
			return url, stop, nil
		}
		select {
		case werr := <-exited:
			exited <- werr
			log, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			stop()
			return "", nil, fmt.Errorf("rabbitmq-server exited (%v): %s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("rabbitmq-server not ready within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// declareQueue makes a durable queue and returns a channel to publish on.
func declareQueue(t *testing.T, url, name string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	return ch
}

// publishAMQP publishes to the queue through the default exchange and waits for the broker's
// confirmation.
func publishAMQP(t *testing.T, ch *amqp.Channel, queue string, p amqp.Publishing) {
	t.Helper()
	conf, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", queue, false, false, p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := conf.WaitContext(context.Background()); !ok || err != nil {
		t.Fatalf("publish not confirmed: %v", err)
	}
}
