package runtimeapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Specialization is what a pre-started generic bootstrap learns when it is assigned a function:
// the body of the answer to GET /sluice/specialize.
type Specialization struct {
	Handler         string            `json:"handler"`  // the runtime's handler form (module.function, file.export)
	TaskRoot        string            `json:"taskRoot"` // the code folder as the process sees it; its working directory
	Env             map[string]string `json:"env"`      // the whole environment the process takes on, replacing its own
	FunctionName    string            `json:"functionName"`
	FunctionVersion int               `json:"functionVersion"`
	MemoryMB        int               `json:"memoryMB"`
	// Concurrency is how many invocations the function's instances serve at once; Specialize
	// lets that many be in flight (Options.Concurrency). Its env carries
	// AWS_LAMBDA_MAX_CONCURRENCY when above 1.
	Concurrency int `json:"concurrency,omitempty"`
}

// ErrSpecialized is returned by Specialize when a specialization was already handed in.
var ErrSpecialized = errors.New("already specialized")

// Waiting is closed when a bootstrap first asks GET /sluice/specialize: the process is started
// and its bootstrap's own imports are done.
func (s *Server) Waiting() <-chan struct{} { return s.waiting }

// Specialize hands sp to the bootstrap's pending (or next) GET /sluice/specialize and sets the
// function and version of the invoked function ARN. It returns once the answer is handed to the
// connection, ctx's error when ctx ends first, ErrClosed after Close, ErrSpecialized when called
// twice. Ready is closed when the bootstrap, having loaded the handler, asks for an invocation.
func (s *Server) Specialize(ctx context.Context, sp *Specialization) error {
	body, err := json.Marshal(sp)
	if err != nil {
		return fmt.Errorf("specialize: %w", err)
	}
	s.mu.Lock()
	if s.specialized {
		s.mu.Unlock()
		return ErrSpecialized
	}
	s.specialized = true
	s.conc = max(sp.Concurrency, 1)
	s.mu.Unlock()
	s.setARN(sp.FunctionName, sp.FunctionVersion)
	select {
	case s.spec <- body:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return ErrClosed
	}
}

func (s *Server) setARN(function string, version int) {
	arn := "arn:aws:lambda:local:000000000000:function:" + function + ":" + strconv.Itoa(version)
	s.arn.Store(&arn)
}

// serveSpecialize blocks until Specialize hands in a specialization and answers it.
func (s *Server) serveSpecialize(bw *bufio.Writer) bool {
	s.waitingOnce.Do(func() { close(s.waiting) })
	var body []byte
	select {
	case body = <-s.spec:
	case <-s.closed:
		writeError(bw, 500, "Runtime.Closed", "the instance is shutting down", true)
		return false
	}
	b := bw.AvailableBuffer()
	b = append(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	_, err := bw.Write(b)
	return err == nil
}
