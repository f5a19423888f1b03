package runtimeapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"

	"sluice.dev/sdk/rawio"
)

// The server speaks just enough HTTP/1.1 for Runtime API clients: persistent connections,
// Content-Length and chunked request bodies, Expect: 100-continue. One goroutine per
// connection reads a request, answers it and loops; nothing else runs per request, which keeps
// a warm invocation to two small writes and reads on the server side, or one of each for a
// bootstrap that pipelines its answer and its next /next.

const (
	maxHeaderBytes = 64 << 10
	maxHeaders     = 100
	// maxLongLines bounds the header and trailer lines of one request longer than the read
	// buffer, taken together: aws-lambda-go sends an X-Ray error cause header of up to 1 MiB
	// with every error, and a streamed response's error body as a trailer.
	maxLongLines = 2 << 20
)

var errMalformed = errors.New("malformed request")

// request is the part of an HTTP request the Runtime API needs. It is reused per connection.
type request struct {
	method        string // GET and POST without allocating; the reader's buffer moves on
	pathStr       string
	contentLength int64 // -1 when absent
	chunked       bool
	closeAfter    bool
	expect100     bool
	errorType     string // Lambda-Runtime-Function-Error-Type
	long          int    // bytes of lines longer than the read buffer, read so far
	// Trailers of a chunked body: a runtime that fails while streaming its response (as
	// aws-lambda-go does when its response reader errors) reports the error there.
	trailerErrorType string // Lambda-Runtime-Function-Error-Type
	trailerErrorBody string // Lambda-Runtime-Function-Error-Body, base64 of the error JSON
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // the listener was closed
		}
		s.connMu.Lock()
		select {
		case <-s.closed:
			s.connMu.Unlock()
			_ = c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.connMu.Unlock()
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.connMu.Lock()
		delete(s.conns, c)
		s.connMu.Unlock()
		_ = c.Close()
	}()
	// The reads and writes of an invocation's exchange do not enter the scheduler: between
	// events the worker is idle, and each would wake the runtime's sysmon (package rawio).
	rw := rawio.Conn(c)
	br := bufio.NewReaderSize(rw, 4<<10)
	bw := bufio.NewWriterSize(rw, 4<<10)
	var req request
	for {
		if err := readHead(br, &req); err != nil {
			if errors.Is(err, errMalformed) {
				writeError(bw, 400, "InvalidRequest", err.Error(), true)
				_ = bw.Flush()
			}
			return
		}
		keep := s.handle(br, bw, &req)
		done := !keep || req.closeAfter
		// A request the client pipelined behind this one (a bootstrap's answer and its next
		// /next in one write) is answered first: both answers leave in one write, and the
		// bootstrap wakes once per invocation. Nothing waits unflushed while the server reads.
		if done || br.Buffered() == 0 {
			if err := bw.Flush(); err != nil || done {
				return
			}
		}
	}
}

// readHead reads a request line and headers into req.
func readHead(br *bufio.Reader, req *request) error {
	*req = request{contentLength: -1}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return headErr(err)
	}
	line = trimEOL(line)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return fmt.Errorf("%w: request line %q", errMalformed, line)
	}
	proto := line[sp2+1:]
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return fmt.Errorf("%w: protocol %q", errMalformed, proto)
	}
	req.closeAfter = bytes.Equal(proto, []byte("HTTP/1.0"))
	target := line[sp1+1 : sp2]
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		target = target[:q]
	}
	req.method = methodString(line[:sp1])
	req.pathStr = pathString(target) // the reader's buffer moves on with the headers
	total := len(line)
	for n := 0; ; n++ {
		h, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			h, err = readLongLine(br, h, req)
		} else if total += len(h); total > maxHeaderBytes {
			return fmt.Errorf("%w: headers too large", errMalformed)
		}
		if err != nil {
			return headErr(err)
		}
		if n > maxHeaders {
			return fmt.Errorf("%w: headers too large", errMalformed)
		}
		h = trimEOL(h)
		if len(h) == 0 {
			return nil
		}
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 {
			return fmt.Errorf("%w: header line %q", errMalformed, h)
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("%w: content-length %q", errMalformed, value)
			}
			req.contentLength = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			req.chunked = bytes.EqualFold(value, []byte("chunked"))
			if !req.chunked {
				return fmt.Errorf("%w: transfer-encoding %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				req.closeAfter = true
			}
		case bytes.EqualFold(name, []byte("Expect")):
			req.expect100 = bytes.EqualFold(value, []byte("100-continue"))
		case bytes.EqualFold(name, []byte("Lambda-Runtime-Function-Error-Type")):
			req.errorType = string(value)
		}
	}
}

// readLongLine finishes a line longer than the read buffer, of which first was read, within
// the request's budget for long lines.
func readLongLine(br *bufio.Reader, first []byte, req *request) ([]byte, error) {
	line := append([]byte(nil), first...)
	req.long += len(first)
	for {
		more, err := br.ReadSlice('\n')
		line = append(line, more...)
		if req.long += len(more); req.long > maxLongLines {
			return nil, fmt.Errorf("%w: header lines too long", errMalformed)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// methodString returns the methods the Runtime API uses without allocating.
func methodString(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	}
	return string(b)
}

// pathString returns well-known paths without allocating.
func pathString(b []byte) string {
	switch string(b) {
	case pathNext:
		return pathNext
	case pathInitEr:
		return pathInitEr
	case pathSpec:
		return pathSpec
	}
	return string(b)
}

func headErr(err error) error {
	if errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("%w: line too long", errMalformed)
	}
	return err
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

// handle answers one request; it reports whether the connection can serve another.
func (s *Server) handle(br *bufio.Reader, bw *bufio.Writer, req *request) bool {
	p := req.pathStr
	method := req.method
	switch {
	case p == pathNext:
		if method != "GET" {
			return s.refuse(br, bw, req, 405, "MethodNotAllowed", "use GET")
		}
		if !discardBody(br, req) {
			return false
		}
		return s.serveNext(bw)
	case len(p) > len(pathInv) && p[:len(pathInv)] == pathInv:
		if method != "POST" {
			return s.refuse(br, bw, req, 405, "MethodNotAllowed", "use POST")
		}
		rest := p[len(pathInv):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == '/' {
				switch id, kind := rest[:i], rest[i+1:]; kind {
				case "response":
					return s.serveAnswer(bw, br, req, id, false)
				case "error":
					return s.serveAnswer(bw, br, req, id, true)
				}
				break
			}
		}
		return s.refuse(br, bw, req, 404, "NotFound", "unknown path "+p)
	case p == pathInitEr:
		if method != "POST" {
			return s.refuse(br, bw, req, 405, "MethodNotAllowed", "use POST")
		}
		return s.serveInitError(bw, br, req)
	case p == pathSpec:
		if method != "GET" {
			return s.refuse(br, bw, req, 405, "MethodNotAllowed", "use GET")
		}
		if !discardBody(br, req) {
			return false
		}
		return s.serveSpecialize(bw)
	}
	return s.refuse(br, bw, req, 404, "NotFound", "unknown path "+p)
}

// refuse answers an error, first discarding the request body so the connection stays usable.
func (s *Server) refuse(br *bufio.Reader, bw *bufio.Writer, req *request, status int, typ, msg string) bool {
	keep := discardBody(br, req)
	writeError(bw, status, typ, msg, !keep)
	return keep
}

func (s *Server) serveNext(bw *bufio.Writer) bool {
	s.readyOnce.Do(func() { close(s.ready) })
	var inv *Invocation
	select {
	case inv = <-s.next:
	case <-s.closed:
		writeError(bw, 500, "Runtime.Closed", "the instance is shutting down", true)
		return false
	}
	b := bw.AvailableBuffer()
	b = append(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: "...)
	b = append(b, WireID(inv.ID)...)
	b = append(b, "\r\nLambda-Runtime-Deadline-Ms: "...)
	b = strconv.AppendInt(b, inv.Deadline.UnixMilli(), 10)
	b = append(b, "\r\nLambda-Runtime-Invoked-Function-Arn: "...)
	b = appendHeaderValue(b, *s.arn.Load())
	b = append(b, "\r\nLambda-Runtime-Trace-Id: "...)
	if inv.TraceID != "" {
		b = appendHeaderValue(b, inv.TraceID)
	} else {
		b = appendTraceID(b, inv.ID, inv.Deadline)
	}
	if inv.ClientContext != "" {
		b = append(b, "\r\nLambda-Runtime-Client-Context: "...)
		b = appendHeaderValue(b, inv.ClientContext)
	}
	if inv.CognitoIdentity != "" {
		b = append(b, "\r\nLambda-Runtime-Cognito-Identity: "...)
		b = appendHeaderValue(b, inv.CognitoIdentity)
	}
	if len(inv.Attributes) > 0 {
		b = append(b, "\r\nSluice-Event-Attributes: "...)
		b = appendAttributes(b, inv.Attributes)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(inv.Payload)), 10)
	b = append(b, "\r\n\r\n"...)
	if _, err := bw.Write(b); err != nil {
		return false // a broken connection surfaces as the invocation's deadline
	}
	_, err := bw.Write(inv.Payload)
	return err == nil
}

func (s *Server) serveAnswer(bw *bufio.Writer, br *bufio.Reader, req *request, id string, isError bool) bool {
	body, keep, err := readBody(br, bw, req)
	var r Result
	switch {
	case errors.Is(err, errTooLarge) && !isError:
		r.Error = &FunctionError{
			Type:    "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("response payload size exceeded maximum allowed payload size (%d bytes)", MaxResponse),
		}
		s.complete(id, r)
		writeError(bw, 413, "RequestEntityTooLarge", err.Error(), !keep)
		return keep
	case errors.Is(err, errTooLarge):
		body = nil // an oversized error report still fails the invocation
	case err != nil:
		writeError(bw, 400, "InvalidRequest", err.Error(), true)
		return false
	}
	switch {
	case isError:
		r.Error = parseError(body, req.errorType)
	case req.trailerErrorType != "" || req.trailerErrorBody != "":
		r.Error = trailerError(req.trailerErrorType, req.trailerErrorBody)
	default:
		r.Payload = body
	}
	if !s.complete(id, r) {
		writeError(bw, 400, "InvalidRequestID", "invocation "+id+" is not in flight", !keep)
		return keep
	}
	writeAccepted(bw, !keep)
	return keep
}

func (s *Server) serveInitError(bw *bufio.Writer, br *bufio.Reader, req *request) bool {
	body, keep, err := readBody(br, bw, req)
	if err != nil && !errors.Is(err, errTooLarge) {
		writeError(bw, 400, "InvalidRequest", err.Error(), true)
		return false
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		writeError(bw, 403, "InvalidStateTransition", "init error after the first invocation", !keep)
		return keep
	}
	select {
	case s.initErr <- parseError(body, req.errorType):
	default: // the first init error wins
	}
	writeAccepted(bw, !keep)
	return keep
}

var errTooLarge = errors.New("body too large")

// maxDiscard is how much of an oversized body is read and dropped so that the client still
// gets its 413 on a usable connection; beyond it the connection is closed.
const maxDiscard = 64 << 20

// readBody reads a request body of at most MaxResponse bytes, allocating once when its length
// is known. keep reports whether the connection can serve another request.
func readBody(br *bufio.Reader, bw *bufio.Writer, req *request) (body []byte, keep bool, err error) {
	if req.expect100 && req.contentLength <= MaxResponse && (req.chunked || req.contentLength > 0) {
		_, _ = bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := bw.Flush(); err != nil {
			return nil, false, fmt.Errorf("read body: %w", err)
		}
	}
	switch {
	case req.chunked:
		cr := httputil.NewChunkedReader(br)
		b, err := io.ReadAll(io.LimitReader(cr, MaxResponse+1))
		if err != nil {
			return nil, false, fmt.Errorf("read body: %w", err)
		}
		if len(b) > MaxResponse {
			n, err := io.Copy(io.Discard, io.LimitReader(cr, maxDiscard))
			keep := err == nil && n < maxDiscard && readTrailers(br, req) == nil
			return nil, keep, fmt.Errorf("%w: the limit is %d bytes", errTooLarge, MaxResponse)
		}
		if err := readTrailers(br, req); err != nil {
			return nil, false, err
		}
		return b, true, nil
	case req.contentLength > MaxResponse:
		keep := false
		if !req.expect100 && req.contentLength <= maxDiscard {
			_, err := br.Discard(int(req.contentLength))
			keep = err == nil
		}
		return nil, keep, fmt.Errorf("%w: %d bytes, the limit is %d", errTooLarge, req.contentLength, MaxResponse)
	case req.contentLength <= 0:
		return nil, true, nil
	}
	b := make([]byte, req.contentLength)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, false, fmt.Errorf("read body: %w", err)
	}
	return b, true, nil
}

// readTrailers consumes the trailer section after a chunked body, keeping the error a
// streaming runtime reports there.
func readTrailers(br *bufio.Reader, req *request) error {
	for range maxHeaders {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = readLongLine(br, line, req)
		}
		if err != nil {
			return fmt.Errorf("read trailers: %w", headErr(err))
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Lambda-Runtime-Function-Error-Type")):
			req.trailerErrorType = string(bytes.TrimSpace(value))
		case bytes.EqualFold(name, []byte("Lambda-Runtime-Function-Error-Body")):
			req.trailerErrorBody = string(bytes.TrimSpace(value))
		}
	}
	return fmt.Errorf("%w: too many trailers", errMalformed)
}

// discardBody skips a body nobody wants; false when it cannot be skipped safely.
func discardBody(br *bufio.Reader, req *request) bool {
	switch {
	case req.chunked:
		// Past MaxResponse the rest of the body is unread: the connection cannot go on.
		n, err := io.Copy(io.Discard, io.LimitReader(httputil.NewChunkedReader(br), MaxResponse+1))
		return err == nil && n <= MaxResponse && readTrailers(br, req) == nil
	case req.contentLength > MaxResponse:
		return false
	case req.contentLength > 0:
		_, err := br.Discard(int(req.contentLength))
		return err == nil
	}
	return true
}

func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 413:
		return "Request Entity Too Large"
	}
	return "Internal Server Error"
}

func writeAccepted(bw *bufio.Writer, closing bool) {
	const body = `{"status":"OK"}`
	b := bw.AvailableBuffer()
	b = append(b, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"...)
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"+body...)
	_, _ = bw.Write(b)
}

func writeError(bw *bufio.Writer, status int, typ, msg string, closing bool) {
	body := appendError(nil, typ, msg)
	b := bw.AvailableBuffer()
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if closing {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	_, _ = bw.Write(b)
}

// appendHeaderValue appends v with the bytes a header value may not hold (control characters
// but tab: CR and LF would end the line, and HTTP clients such as Go's refuse the others)
// replaced by spaces.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}
