package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"sluice.dev/events"
)

// StoreFraction is the share of the data folder's free space the embedded store is sized to at
// start (one half): the rest is left to the code cache, the functions' staged code and the
// store's own overhead (block and index files, compaction), so JetStream never meets a full disk.
const StoreFraction = 2

// ErrStoreTooSmall is a data folder without room for the smallest store the bus works with.
var ErrStoreTooSmall = errors.New("not enough free space for the store")

// StoreSize is how the node's JetStream store was sized at start.
type StoreSize struct {
	Max      int64 // what the bus may fill: JetStream's max store, shared out among the streams
	Free     int64 // free space of the data folder's filesystem
	InStore  int64 // bytes the store's files take now, counted as free (a restart sizes alike)
	Reserved int64 // bytes the store's existing streams reserve from an earlier start (their MaxBytes)
	Given    bool  // Max was given (--store-max), not measured
}

// SizeStore sizes the store under dataDir: given, when it is positive, else 1/StoreFraction of
// the filesystem's free space, the store's own files counted as free. It fails with
// ErrStoreTooSmall under events.MinStore.
func SizeStore(dataDir string, given int64) (StoreSize, error) {
	dir := filepath.Join(dataDir, storeDir)
	s := StoreSize{InStore: treeSize(dir), Reserved: reserved(dir)}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &st); err != nil {
		return s, fmt.Errorf("size the store: free space of %s: %w", dataDir, err)
	}
	s.Free = int64(st.Bavail) * int64(st.Bsize)
	if given > 0 {
		s.Max, s.Given = given, true
		if given < events.MinStore {
			return s, fmt.Errorf("%w: --store-max %s is under the %s the bus needs", ErrStoreTooSmall, events.FormatSize(given), events.FormatSize(events.MinStore))
		}
		return s, nil
	}
	s.Max = (s.Free + s.InStore) / StoreFraction
	if s.Max < events.MinStore {
		return s, fmt.Errorf("%w: the data folder's filesystem has %s free (the store holds %s more); the store is sized to 1/%d of that, %s, and needs at least %s: free some space there, or pass --store-max",
			ErrStoreTooSmall, events.FormatSize(s.Free), events.FormatSize(s.InStore), StoreFraction, events.FormatSize(s.Max), events.FormatSize(events.MinStore))
	}
	return s, nil
}

// treeSize is the bytes the files under dir take on disk.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			} else {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// reserved sums the MaxBytes of the file streams JetStream keeps under dir, as their meta files
// record them. A server restores its streams without checking them against its max store, but
// refuses to create or update any file stream while they reserve more than it: the node starts
// its server with room for them, and the bus's sizes bring them down.
func reserved(dir string) int64 {
	metas, _ := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "*", "meta.inf"))
	var n int64
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var c struct {
			MaxBytes int64  `json:"max_bytes"`
			Storage  string `json:"storage"`
		}
		if json.Unmarshal(b, &c) == nil && c.Storage == "file" && c.MaxBytes > 0 {
			n += c.MaxBytes
		}
	}
	return n
}
