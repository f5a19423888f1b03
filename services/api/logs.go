package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/httpjson"
)

// Log streaming settings.
const (
	DefaultLogsSince = 10 * time.Minute // as `aws logs tail`
	logsCatchUpWait  = 5 * time.Second  // without follow: give up on a gap this long
	logsKeepAlive    = 15 * time.Second // with follow: a comment or newline this often
	logsWriteWait    = 30 * time.Second // a stream's reader must take each line within this
)

// logsQuery is the parsed query of GET /v1/functions/{name}/logs.
type logsQuery struct {
	start      time.Time
	follow     bool
	invocation string
	grep       string // only lines whose message contains it
	sse        bool
}

func parseLogsQuery(r *http.Request, now time.Time) (logsQuery, error) {
	q := r.URL.Query()
	lq := logsQuery{start: now.Add(-DefaultLogsSince), invocation: q.Get("invocation"), grep: q.Get("grep")}
	if s := q.Get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			lq.start = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			lq.start = t
		} else {
			return lq, errors.New(`since: use a duration like "10m" or "2h", or an RFC 3339 time`)
		}
	}
	if f := q.Get("follow"); f != "" {
		b, err := strconv.ParseBool(f)
		if err != nil {
			return lq, errors.New(`follow: use 1 or 0`)
		}
		lq.follow = b
	}
	lq.sse = strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	return lq, nil
}

func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := mux.Vars(r)["name"]
	if _, err := a.reg.Function(ctx, name); err != nil {
		a.fail(w, r, err)
		return
	}
	lq, err := parseLogsQuery(r, time.Now())
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
		return
	}
	subject := events.LogsSubject(name)
	stream, err := a.js.Stream(ctx, events.StreamLogs)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Without follow, read up to the last line there is now.
	var last uint64
	if !lq.follow {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			a.fail(w, r, err)
			return
		case m.Time.Before(lq.start):
		default:
			last = m.Sequence
		}
	}
	// A stream lasts as long as its reader reads: no deadline for the whole request, one per
	// write instead (writeLine, keepAlive).
	httpjson.Extend(w, 0)
	a.startStream(w, lq.sse)
	if !lq.follow && last == 0 {
		return
	}
	start := lq.start
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		a.log.ErrorContext(ctx, "logs: consumer", "function", name, "err", err)
		return
	}
	it, err := cons.Messages()
	if err != nil {
		a.log.ErrorContext(ctx, "logs: consume", "function", name, "err", err)
		return
	}
	defer it.Stop()
	wait := logsCatchUpWait
	if lq.follow {
		wait = logsKeepAlive
	}
	rc := http.NewResponseController(w)
	for {
		m, err := next(ctx, it, wait)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			if !lq.follow {
				return
			}
			if err := keepAlive(w, rc, lq.sse); err != nil {
				return
			}
			continue
		case err != nil:
			a.log.ErrorContext(ctx, "logs: next", "function", name, "err", err)
			return
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		if err := writeLine(w, rc, m.Data(), meta.Sequence.Stream, lq); err != nil {
			return // the client went away
		}
		if !lq.follow && meta.Sequence.Stream >= last {
			return
		}
	}
}

func next(ctx context.Context, it jetstream.MessagesContext, wait time.Duration) (jetstream.Msg, error) {
	nctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return it.Next(jetstream.NextContext(nctx))
}

func (a *API) startStream(w http.ResponseWriter, sse bool) {
	h := w.Header()
	if sse {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
}

// writeLine writes one log record, if it passes the invocation filter, and flushes it.
func writeLine(w http.ResponseWriter, rc *http.ResponseController, data []byte, seq uint64, lq logsQuery) error {
	line, err := events.DecodeLogLine(data)
	if err != nil {
		return nil // not a log record; skip it
	}
	if lq.invocation != "" && line.InvocationID != lq.invocation {
		return nil
	}
	if lq.grep != "" && !strings.Contains(line.Message, lq.grep) {
		return nil
	}
	b, _ := json.Marshal(line) // plain data always marshals
	_ = rc.SetWriteDeadline(time.Now().Add(logsWriteWait))
	if lq.sse {
		_, err = w.Write([]byte("id: " + strconv.FormatUint(seq, 10) + "\ndata: " + string(b) + "\n\n"))
	} else {
		_, err = w.Write(append(b, '\n'))
	}
	if err != nil {
		return err
	}
	return rc.Flush()
}

// keepAlive keeps idle followed streams open through proxies: an SSE comment, or an empty line
// that NDJSON readers skip.
func keepAlive(w http.ResponseWriter, rc *http.ResponseController, sse bool) error {
	s := "\n"
	if sse {
		s = ": keep-alive\n\n"
	}
	_ = rc.SetWriteDeadline(time.Now().Add(logsWriteWait))
	if _, err := w.Write([]byte(s)); err != nil {
		return err
	}
	return rc.Flush()
}
