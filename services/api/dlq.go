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
	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
)

// CodeDeadLetterNotFound: no such event in the function's dead-letter queue.
const CodeDeadLetterNotFound = "dead_letter_not_found"

// dlqReadWait bounds the wait for the next record while listing a dead-letter queue.
const dlqReadWait = 5 * time.Second

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
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	list, next, err := deadLetters(r.Context(), s, name, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, wire.DeadLetters{Function: name, Events: list, Next: next})
}

// page is a page of a dead-letter queue: the letters after after, through through (0: the
// newest), at most limit.
type page struct {
	after, through uint64
	limit          int
}

// parsePage reads ?after, ?through and ?limit (clamped to wire.DLQPageMax); it answers 400 itself.
func parsePage(w http.ResponseWriter, r *http.Request) (page, bool) {
	q := r.URL.Query()
	p := page{limit: wire.DLQPageDefault}
	for k, dst := range map[string]*uint64{"after": &p.after, "through": &p.through} {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "%s %q: use a sequence number (the next of the previous page)", k, v)
				return p, false
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "limit %q: use 1 to %d", v, wire.DLQPageMax)
			return p, false
		}
		p.limit = min(n, wire.DLQPageMax)
	}
	return p, true
}

// deadLetters reads a page of the function's dead-letter queue, oldest first: the letters
// after p.after, up to p.through or the newest there is now, at most p.limit; only their
// headers cross the bus. next is the sequence to continue after, 0 when the page reached the end.
func deadLetters(ctx context.Context, s jetstream.Stream, fn string, p page) ([]events.DeadLetter, uint64, error) {
	list := []events.DeadLetter{}
	subject := events.DLQSubject(fn)
	last, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return list, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("dead letters of %s: %w", fn, err)
	}
	through := last.Sequence
	if p.through > 0 {
		through = min(through, p.through)
	}
	if p.after >= through {
		return list, 0, nil
	}
	it, stop, err := events.ReadStream(ctx, s, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    p.after + 1,
		HeadersOnly:    true,
	}, jetstream.PullMaxMessages(min(p.limit, 500)))
	if err != nil {
		return nil, 0, fmt.Errorf("dead letters of %s: %w", fn, err)
	}
	defer stop()
	for {
		m, err := next(ctx, it, dlqReadWait)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return list, 0, nil // the last ones were redriven or purged meanwhile
		case err != nil:
			return nil, 0, fmt.Errorf("dead letters of %s: %w", fn, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		seq := meta.Sequence.Stream
		if seq > through {
			return list, 0, nil
		}
		d := events.ParseDeadLetter(fn, seq, m.Headers(), nil, false)
		d.Size, _ = strconv.Atoi(m.Headers().Get(nats.MsgSize))
		list = append(list, d)
		switch {
		case seq >= through:
			return list, 0, nil
		case len(list) >= p.limit:
			return list, seq, nil
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

// dlqRedrive sends dead-lettered events back to the function, those of ?seq=N[,M...] or a page
// of them (?after, ?through, ?limit), and removes each from the queue once its invocation event
// is stored.
func (a *API) dlqRedrive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	name, s, ok := a.dlqStream(w, r)
	if !ok {
		return
	}
	out := wire.Redriven{Function: name, Redriven: []wire.RedrivenEvent{}}
	var seqs []uint64
	if q := r.URL.Query().Get("seq"); q != "" {
		parts := strings.Split(q, ",")
		if len(parts) > wire.DLQPageMax {
			httpjson.Error(w, http.StatusBadRequest, httpjson.CodeBadRequest, "seq names %d events: redrive at most %d at once", len(parts), wire.DLQPageMax)
			return
		}
		// Every one named must be there before any is sent (read again below, one at a time).
		for _, part := range parts {
			m, ok := a.deadLetter(w, r, s, name, strings.TrimSpace(part))
			if !ok {
				return
			}
			seqs = append(seqs, m.Sequence)
		}
	} else {
		if p.through == 0 {
			last, err := s.GetLastMsgForSubject(ctx, events.DLQSubject(name))
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				httpjson.Write(w, http.StatusOK, out)
				return
			case err != nil:
				a.fail(w, r, err)
				return
			}
			p.through = last.Sequence
		}
		list, next, err := deadLetters(ctx, s, name, p)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, d := range list {
			seqs = append(seqs, d.Seq)
		}
		out.Next, out.Through = next, p.through
	}
	for _, seq := range seqs {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // redriven or purged meanwhile
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		// The message id names this dead letter: two redrives of it at once make one invocation
		// (the invocation stream's duplicate window absorbs the second).
		id := events.EventID(m.Header)
		if _, err := a.js.PublishMsg(ctx, events.RedriveMsg(name, m.Header, m.Data, events.RedriveMsgID(id, m.Sequence))); err != nil {
			a.fail(w, r, fmt.Errorf("redrive %d: %w", m.Sequence, err))
			return
		}
		if err := s.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			a.fail(w, r, fmt.Errorf("redrive %d: sent, but not removed from the queue: %w", m.Sequence, err))
			return
		}
		out.Redriven = append(out.Redriven, wire.RedrivenEvent{Seq: m.Sequence, ID: id})
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
	httpjson.Write(w, http.StatusOK, wire.Purged{Function: name, Purged: info.State.Subjects[subject]})
}
