package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// uidPool hands each jail a host uid (and the same gid) of the node's range that no other live
// jail on this host holds, whichever worker process made it: a uid is held by an flock on a
// file named for it, which the kernel drops when the holder closes it or dies. An escaped
// process therefore cannot read another instance's staged code or its /proc.
type uidPool struct {
	dir   string // the lock files, private to root
	first int
	count int

	mu   sync.Mutex
	next int // where the next search starts, relative to first
}

func newUIDPool(first, count int) (*uidPool, error) {
	dir := filepath.Join(os.TempDir(), "sluice-uids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uid locks: %w", err)
	}
	return &uidPool{dir: dir, first: first, count: count, next: os.Getpid() % count}, nil
}

// uidLease is one held uid.
type uidLease struct {
	uid  int
	lock *os.File
}

// take holds a free uid.
func (p *uidPool) take() (*uidLease, error) {
	p.mu.Lock()
	start := p.next
	p.next = (p.next + 1) % p.count
	p.mu.Unlock()
	for n := range p.count {
		uid := p.first + (start+n)%p.count
		f, err := os.OpenFile(filepath.Join(p.dir, strconv.Itoa(uid)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("uid lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			_ = f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("uid lock: %w", err)
		}
		p.mu.Lock()
		p.next = (start + n + 1) % p.count
		p.mu.Unlock()
		return &uidLease{uid: uid, lock: f}, nil
	}
	return nil, fmt.Errorf("all %d sandbox uids from %d are in use", p.count, p.first)
}

// release gives the uid back; nil-safe.
func (l *uidLease) release() {
	if l != nil && l.lock != nil {
		_ = l.lock.Close()
	}
}
