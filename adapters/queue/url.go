package queue

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"

	"sluice.dev/events"
)

// Source kinds, the URL schemes.
const (
	schemeNATS      = "nats"
	schemeJetStream = "jetstream"
	schemeAMQP      = "amqp"
)

// source is a parsed queue URL.
type source struct {
	scheme string
	server string // what the client dials, credentials included: nats://u:p@h:4222 or amqp://u:p@h:5672/
	target string // the subject, stream or queue
	public string // the URL without credentials: the events' source
}

// parseURL validates a queue URL; errors wrap events.ErrInvalidTrigger.
func parseURL(raw string) (source, error) {
	bad := func(format string, args ...any) (source, error) {
		return source{}, fmt.Errorf("%w: queue url %q: %s", events.ErrInvalidTrigger, events.RedactURL(raw), fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("no host: use nats://HOST:PORT/SUBJECT, jetstream://HOST:PORT/STREAM or amqp://USER:PASS@HOST:PORT/QUEUE")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return bad("query strings and fragments are not supported")
	}
	host, port := u.Hostname(), u.Port()
	defaultPort := map[string]string{schemeNATS: "4222", schemeJetStream: "4222", schemeAMQP: "5672"}[u.Scheme]
	if defaultPort == "" {
		return bad("scheme %q: use nats, jetstream or amqp", u.Scheme)
	}
	if host == "" {
		return bad("no host")
	}
	if port == "" {
		port = defaultPort
	}
	target := strings.TrimPrefix(u.Path, "/")
	if target == "" {
		return bad("no %s after the host", map[string]string{schemeNATS: "subject", schemeJetStream: "stream", schemeAMQP: "queue"}[u.Scheme])
	}
	if strings.ContainsFunc(target, unicode.IsControl) { // it is each event's subject, a bus header
		return bad("%q: no control characters in a subject, stream or queue name", target)
	}
	hostPort := net.JoinHostPort(host, port)
	if _, err := url.Parse("//" + hostPort); err != nil { // a host of colons that is no IPv6 address
		return bad("host %q: not a host name or address", host)
	}
	s := source{scheme: u.Scheme, target: target, public: u.Scheme + "://" + hostPort + "/" + target}
	cred := ""
	if u.User != nil {
		cred = u.User.String() + "@"
	}
	switch u.Scheme {
	case schemeNATS:
		if err := validSubject(target); err != nil {
			return bad("%v", err)
		}
		s.server = "nats://" + cred + hostPort
	case schemeJetStream:
		if strings.ContainsAny(target, ".*>/\\ \t\r\n") {
			return bad("stream %q: a stream name has no '.', '*', '>', '/', '\\' or spaces", target)
		}
		s.server = "nats://" + cred + hostPort
	case schemeAMQP:
		if u.User == nil {
			return bad("no USER:PASS@ before the host")
		}
		if len(target) > 255 || strings.ContainsAny(target, "\r\n") {
			return bad("queue %q: at most 255 characters on one line", target)
		}
		s.server = "amqp://" + cred + hostPort + "/"
		s.public = u.Scheme + "://" + hostPort + "/" + url.PathEscape(target)
	}
	if _, err := url.Parse(s.public); err != nil { // a '%' or a control character in the subject or stream
		s.public = u.Scheme + "://" + hostPort + "/" + url.PathEscape(target)
	}
	return s, nil
}

// validSubject checks a NATS subject to subscribe to: dot-separated non-empty tokens without
// spaces, '*' only as a whole token, '>' only as the last token.
func validSubject(subject string) error {
	tokens := strings.Split(subject, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token", subject)
		case strings.ContainsAny(tok, " \t\r\n/"):
			return fmt.Errorf("subject %q has a space or '/'", subject)
		case tok == ">" && i != len(tokens)-1:
			return fmt.Errorf("subject %q: '>' only as the last token", subject)
		case len(tok) > 1 && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("subject %q: '*' and '>' only as whole tokens", subject)
		}
	}
	return nil
}
