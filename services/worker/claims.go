package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// Sentinels of claiming an instance slot.
var (
	// ErrNoSlot: every one of the function's max slots is held, by this worker or others.
	ErrNoSlot = errors.New("no free instance slot")
	// ErrNoMemory: another instance of the function would exceed this worker's memory budget.
	ErrNoMemory = errors.New("memory budget exhausted")
)

// claim is one instance slot this worker holds in sluice_claims.
type claim struct {
	fn       string
	revision uint64
	memoryMB int // what the slot's instance may use, counted against the budget
}

// claims holds this worker's instance slots and its memory budget. Every instance runs under a
// claim; a claim not refreshed within the bucket's TTL expires, so a dead worker's slots pass to
// the others. Safe for concurrent use.
//
// A write to the bucket, once begun, runs to its answer even when the caller's context is
// cancelled meanwhile (claimWriteTimeout at most): a write the server applied whose answer was
// dropped would leave a slot this worker holds without knowing it, or at a revision it does not
// know, so its release at stop would fail and the slot stay taken until its TTL.
type claims struct {
	kv     jetstream.KeyValue
	id     string
	budget int // MB
	logger *slog.Logger

	mu   sync.Mutex
	used int // MB of held claims
	held map[string]claim
}

// take claims the first free slot of fn in [0, max) for an instance of memoryMB, or fails with
// ErrNoMemory (no bus round trip) or ErrNoSlot.
func (c *claims) take(ctx context.Context, fn string, max, memoryMB int) (string, error) {
	if err := c.reserve(fn, memoryMB); err != nil {
		return "", err
	}
	return c.win(ctx, fn, max, memoryMB)
}

// reserve sets memoryMB of the budget aside for a slot win is to claim, or fails with
// ErrNoMemory.
func (c *claims) reserve(fn string, memoryMB int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+memoryMB > c.budget {
		return fmt.Errorf("%s: %d MB used of %d MB: %w", fn, c.used, c.budget, ErrNoMemory)
	}
	c.used += memoryMB
	return nil
}

// win claims the first free slot of fn in [0, max) with memory reserved before; on failure the
// reservation is given back.
func (c *claims) win(ctx context.Context, fn string, max, memoryMB int) (string, error) {
	c.mu.Lock()
	mine := map[string]bool{}
	for k := range c.held {
		mine[k] = true
	}
	c.mu.Unlock()
	unreserve := func() {
		c.mu.Lock()
		c.used -= memoryMB
		c.mu.Unlock()
	}
	for i := range max {
		key := events.ClaimKey(fn, i)
		if mine[key] {
			continue
		}
		if err := ctx.Err(); err != nil {
			unreserve()
			return "", fmt.Errorf("claim %s: %w", key, err)
		}
		rev, err := c.create(ctx, key)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			unreserve()
			return "", fmt.Errorf("claim %s: %w", key, err)
		}
		c.mu.Lock()
		c.held[key] = claim{fn: fn, revision: rev, memoryMB: memoryMB}
		c.mu.Unlock()
		return key, nil
	}
	unreserve()
	return "", fmt.Errorf("%s max %d: %w", fn, max, ErrNoSlot)
}

// release gives a slot back at once, so another worker can win it without waiting for its TTL.
func (c *claims) release(key string) {
	c.mu.Lock()
	cl, ok := c.held[key]
	if ok {
		delete(c.held, key)
		c.used -= cl.memoryMB
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimWriteTimeout)
	defer cancel()
	if err := c.kv.Delete(ctx, key, jetstream.LastRevision(cl.revision)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		c.logger.Debug("release claim", "claim", key, "err", err)
	}
}

// releaseAll gives back every slot still held.
func (c *claims) releaseAll() {
	c.mu.Lock()
	keys := make([]string, 0, len(c.held))
	for k := range c.held {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.release(k)
	}
}

// refresh renews every held claim before its TTL runs out. A claim that expired meanwhile is
// taken again when still free; one another worker won is reported lost.
func (c *claims) refresh(ctx context.Context) {
	c.mu.Lock()
	held := make(map[string]claim, len(c.held))
	for k, cl := range c.held {
		held[k] = cl
	}
	c.mu.Unlock()
	for key, cl := range held {
		if ctx.Err() != nil {
			return // stopping: the slots are released next
		}
		rev, err := c.update(ctx, key, cl.revision)
		if err != nil {
			rev, err = c.create(ctx, key)
		}
		c.mu.Lock()
		if cur, ok := c.held[key]; ok && cur.revision == cl.revision {
			if err == nil {
				cur.revision = rev
				c.held[key] = cur
			}
		}
		c.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			c.logger.Warn("instance slot lost: another worker may run it too until this instance stops", "claim", key, "err", err)
		}
	}
}

// claimWriteTimeout bounds one write of a claim once it has begun.
const claimWriteTimeout = 2 * time.Second

// create writes key as this worker's, to its answer (see claims).
func (c *claims) create(ctx context.Context, key string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimWriteTimeout)
	defer cancel()
	return c.kv.Create(ctx, key, []byte(c.id))
}

// update rewrites key on revision rev, to its answer (see claims).
func (c *claims) update(ctx context.Context, key string, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimWriteTimeout)
	defer cancel()
	return c.kv.Update(ctx, key, []byte(c.id), rev)
}

// usage reports the memory held and the budget, in MB.
func (c *claims) usage() (used, budget int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.budget
}

// fits reports whether an instance of memoryMB fits the budget now.
func (c *claims) fits(memoryMB int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used+memoryMB <= c.budget
}

// memoryOf is the memory a held slot set aside, in MB; 0 when the slot is not held.
func (c *claims) memoryOf(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key].memoryMB
}
