package api

import (
	"context"
	"errors"
	"fmt"
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

// CodeDeadLetterNotFound: no such event in the function's dead-letter queue.
const CodeDeadLetterNotFound = "dead_letter_not_found"

// dlqReadWait bounds the wait for the next record while listing a dead-letter queue.
const dlqReadWait = 5 * time.Second

// DeadLetters is the answer of GET /v1/functions/{name}/dlq, oldest first.
type DeadLetters struct {
	Function string              `json:"function"`
	Events   []events.DeadLetter `json:"events"`
}

// Redriven is the answer of POST /v1/functions/{name}/dlq/redrive.
type Redriven struct {
	Function string          `json:"function"`
	Redriven []RedrivenEvent `json:"redriven"`
}

// RedrivenEvent is one event sent back to its function.
type RedrivenEvent struct {
	Seq uint64 `json:"seq"` // its sequence in SLUICE_DLQ, now removed
	ID  string `json:"id"`  // the invocation id, unchanged
}

// Purged is the answer of DELETE /v1/functions/{name}/dlq.
type Purged struct {
	Function string `json:"function"`
	Purged   uint64 `json:"purged"`
}

func (a *API) dlqRoutes(r *mux.Router) {
	r.HandleFunc("/v1/functions/{name}/dlq", a.dlqList).Methods(http.MethodGet)
	r.HandleFunc("/v1/functions/{name}/dlq", a.dlqPurge).Methods(http.MethodDelete)
	r.HandleFunc("/v1/functions/{name}/dlq/redrive", a.dlqRedrive).Methods(http.MethodPost)
	r.HandleFunc("/v1/functions/{name}/dlq/{seq}", a.dlqShow).Methods(http.MethodGet)
}

// dlqStream checks the function and returns SLUICE_DLQ; it answers the error itself.
func (a *API) dlqStream(w http.ResponseWriter, r *http.Request) (string, jetstream.Stream, bool) {
	name := mux.Vars(r)["name"]
	if _, err := a.reg.Function(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return "", nil, false
	}
	s, err := a.js.Stream(r.Context(), events.StreamDLQ)
	if err != nil {
		a.fail(w, r, err)
		return "", nil, false
	}
	return name, s, true
}

func (a *API) dlqList(w http.ResponseWriter, r *http.Request) {
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	list, err := deadLetters(r.Context(), s, name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, DeadLetters{Function: name, Events: list})
}

// deadLetters reads every event in the function's dead-letter queue, oldest first, up to the
// last one there now.
func deadLetters(ctx context.Context, s jetstream.Stream, fn string) ([]events.DeadLetter, error) {
	out := []events.DeadLetter{}
	subject := events.DLQSubject(fn)
	last, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters of %s: %w", fn, err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("dead letters of %s: %w", fn, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("dead letters of %s: %w", fn, err)
	}
	defer it.Stop()
	for {
		m, err := next(ctx, it, dlqReadWait)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return out, nil // the last ones were redriven or purged meanwhile
		case err != nil:
			return nil, fmt.Errorf("dead letters of %s: %w", fn, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		out = append(out, events.ParseDeadLetter(fn, meta.Sequence.Stream, m.Headers(), m.Data(), false))
		if meta.Sequence.Stream >= last.Sequence {
			return out, nil
		}
	}
}

// deadLetter reads one event of the function's dead-letter queue by its sequence.
func (a *API) deadLetter(w http.ResponseWriter, r *http.Request, s jetstream.Stream, fn, seqText string) (*jetstream.RawStreamMsg, bool) {
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || seq == 0 {
		httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "seq %q: use the sequence number sluice dlq list shows", seqText)
		return nil, false
	}
	m, err := s.GetMsg(r.Context(), seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && m.Subject != events.DLQSubject(fn)) {
		httpjson.Error(w, http.StatusNotFound, CodeDeadLetterNotFound, "no dead-lettered event %d of %s (list them with sluice dlq list %s)", seq, fn, fn)
		return nil, false
	}
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return m, true
}

func (a *API) dlqShow(w http.ResponseWriter, r *http.Request) {
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	m, ok := a.deadLetter(w, r, s, name, mux.Vars(r)["seq"])
	if !ok {
		return
	}
	httpjson.Write(w, http.StatusOK, events.ParseDeadLetter(name, m.Sequence, m.Header, m.Data, true))
}

// dlqRedrive sends dead-lettered events back to the function (all, or those of ?seq=N[,M...])
// and removes each from the queue once its invocation event is stored.
func (a *API) dlqRedrive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	var msgs []*jetstream.RawStreamMsg
	if q := r.URL.Query().Get("seq"); q != "" {
		for _, part := range strings.Split(q, ",") {
			m, ok := a.deadLetter(w, r, s, name, strings.TrimSpace(part))
			if !ok {
				return
			}
			msgs = append(msgs, m)
		}
	} else {
		list, err := deadLetters(ctx, s, name)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, d := range list {
			m, err := s.GetMsg(ctx, d.Seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // redriven or purged meanwhile
			}
			if err != nil {
				a.fail(w, r, err)
				return
			}
			msgs = append(msgs, m)
		}
	}
	out := Redriven{Function: name, Redriven: []RedrivenEvent{}}
	for _, m := range msgs {
		// The message id names this dead letter: two redrives of it at once make one invocation
		// (the invocation stream's duplicate window absorbs the second).
		id := m.Header.Get("ce-id")
		if _, err := a.js.PublishMsg(ctx, events.RedriveMsg(name, m.Header, m.Data, events.RedriveMsgID(id, m.Sequence))); err != nil {
			a.fail(w, r, fmt.Errorf("redrive %d: %w", m.Sequence, err))
			return
		}
		if err := s.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			a.fail(w, r, fmt.Errorf("redrive %d: sent, but not removed from the queue: %w", m.Sequence, err))
			return
		}
		out.Redriven = append(out.Redriven, RedrivenEvent{Seq: m.Sequence, ID: id})
		a.log.InfoContext(ctx, "dead letter redriven", "function", name, "invocation", id, "seq", m.Sequence)
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) dlqPurge(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	subject := events.DLQSubject(name)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(ctx, "dead letters purged", "function", name, "count", info.State.Subjects[subject])
	httpjson.Write(w, http.StatusOK, Purged{Function: name, Purged: info.State.Subjects[subject]})
}
