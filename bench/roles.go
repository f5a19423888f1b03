package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// roleArg, as the first argument, runs this binary as one of the baselines' server sides. Such a
// child prints "ready" once it serves and runs until its stdin is closed.
const roleArg = "-role"

func runRole(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("role", flag.ContinueOnError)
	natsURL := fs.String("nats", "", "NATS URL with credentials")
	subject := fs.String("subject", "", "subject to answer on (responder)")
	stream := fs.String("stream", "", "stream to consume (consumer)")
	count := fs.Int("count", 0, "messages to consume before printing done (consumer)")
	batch := fs.Int("batch", 256, "pull batch size (consumer)")
	if len(args) == 0 {
		return errors.New("role: name missing")
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the parent closes our stdin to stop us
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	switch name {
	case "responder":
		return respond(ctx, *natsURL, *subject, stdout)
	case "http":
		return serveHTTP(ctx, stdout)
	case "consumer":
		return consume(ctx, *natsURL, *stream, *count, *batch, stdout)
	default:
		return fmt.Errorf("role %q: want responder, http or consumer", name)
	}
}

// respond answers every request on subject with an empty reply.
func respond(ctx context.Context, url, subject string, stdout io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("responder: connect: %w", err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(nil) }); err != nil {
		return fmt.Errorf("responder: subscribe: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("responder: flush: %w", err)
	}
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return nil
}

// serveHTTP runs a bare keep-alive net/http server on a free loopback port whose one handler
// reads the body and answers JSON null, as a no-op function does.
func serveHTTP(ctx context.Context, stdout io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("http: listen: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("null"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "ready %s\n", l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	<-errc
	return nil
}

// consume reads count messages from stream with one durable pull consumer (Consume, batched),
// acks each, and prints "done" after the last.
func consume(ctx context.Context, url, stream string, count, batch int, stdout io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("consumer: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       "bench",
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxAckPending: 10000,
	})
	if err != nil {
		return fmt.Errorf("consumer: create: %w", err)
	}
	done := make(chan struct{})
	seen := 0
	cc, err := c.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		seen++ // the callback runs on one goroutine
		if seen == count {
			close(done)
		}
	}, jetstream.PullMaxMessages(batch))
	if err != nil {
		return fmt.Errorf("consumer: consume: %w", err)
	}
	defer cc.Stop()
	fmt.Fprintln(stdout, "ready")
	select {
	case <-done:
		fmt.Fprintln(stdout, "done")
	case <-ctx.Done():
	}
	<-ctx.Done()
	return nil
}

// child is a role process started by the bench.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout lines; closed at EOF
}

// startChild re-executes self in a role and waits for its "ready" line, whose remainder it
// returns.
func startChild(ctx context.Context, self string, args ...string) (*child, string, error) {
	cmd := exec.CommandContext(ctx, self, append([]string{roleArg}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", args[0], err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
	}()
	rest, err := c.waitLine("ready", 30*time.Second)
	if err != nil {
		c.stop()
		return nil, "", fmt.Errorf("%s: %w", args[0], err)
	}
	return c, rest, nil
}

// waitLine waits for a stdout line starting with word and returns the rest of it.
func (c *child) waitLine(word string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("exited before printing %q", word)
			}
			if rest, found := strings.CutPrefix(l, word); found {
				return strings.TrimSpace(rest), nil
			}
		case <-t.C:
			return "", fmt.Errorf("no %q line within %s", word, timeout)
		}
	}
}

// stop closes the child's stdin and waits for it to exit, killing it after a grace period.
func (c *child) stop() {
	_ = c.stdin.Close()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
drain:
	for {
		select {
		case _, ok := <-c.lines:
			if !ok {
				break drain
			}
		case <-t.C:
			_ = c.cmd.Process.Kill()
			for range c.lines {
			}
			break drain
		}
	}
	_ = c.cmd.Wait()
}
