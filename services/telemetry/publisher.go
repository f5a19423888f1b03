// Package telemetry publishes what functions print and what each invocation cost onto the bus:
// log lines to SLUICE_LOGS and meter records to SLUICE_METERS.
//
// Publishing never slows the invocation path: records go into a bounded buffer that one goroutine
// drains in order with plain NATS publishes on the streams' subjects. The streams store them
// without sending an acknowledgement per record, which would double the bus's work for every line
// printed. When the buffer is full a record is dropped and counted (Dropped), never waited for.
// Meter observers (OnMeter) see every meter record first, dropped or not: the process's
// Prometheus metrics count from them.
package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"sluice.dev/events"
)

type record struct {
	subject string
	value   any
}

// Publisher buffers and publishes log lines and meters. Log and Meter are safe for concurrent use.
type Publisher struct {
	nc      *nats.Conn
	logger  *slog.Logger
	ch      chan record
	dropped atomic.Uint64
	meterFn []func(events.Meter)
}

// NewPublisher makes a publisher with room for size records in flight; Run publishes them.
func NewPublisher(nc *nats.Conn, size int, logger *slog.Logger) *Publisher {
	return &Publisher{nc: nc, logger: logger, ch: make(chan record, size)}
}

// Log queues one log line of a function.
func (p *Publisher) Log(l events.LogLine) { p.put(record{events.LogsSubject(l.Function), l}) }

// Meter hands the meter record of one finished invocation to the observers, then queues it.
func (p *Publisher) Meter(m events.Meter) {
	for _, f := range p.meterFn {
		f(m)
	}
	p.put(record{events.MetersSubject(m.Function), m})
}

// OnMeter adds an observer that sees every meter record, even one the buffer then drops (the
// process's Prometheus metrics count from it). f runs on the invocation path and must not block.
// Call OnMeter before the publisher is used.
func (p *Publisher) OnMeter(f func(events.Meter)) { p.meterFn = append(p.meterFn, f) }

// Dropped counts records lost to a full buffer.
func (p *Publisher) Dropped() uint64 { return p.dropped.Load() }

func (p *Publisher) put(r record) {
	select {
	case p.ch <- r:
	default:
		p.dropped.Add(1)
	}
}

// Run publishes queued records until ctx is cancelled, then publishes what is still queued and
// flushes it to the server (waiting up to five seconds).
func (p *Publisher) Run(ctx context.Context) error {
	for {
		select {
		case r := <-p.ch:
			p.publish(r)
		case <-ctx.Done():
			for {
				select {
				case r := <-p.ch:
					p.publish(r)
				default:
					if err := p.nc.FlushTimeout(5 * time.Second); err != nil {
						p.logger.Warn("telemetry: flush at stop", "err", err)
					}
					return nil
				}
			}
		}
	}
}

func (p *Publisher) publish(r record) {
	b, err := json.Marshal(r.value)
	if err != nil {
		p.logger.Error("telemetry: encode record", "subject", r.subject, "err", err)
		return
	}
	if err := p.nc.Publish(r.subject, b); err != nil {
		p.dropped.Add(1)
		p.logger.Warn("telemetry: publish", "subject", r.subject, "err", err)
	}
}
