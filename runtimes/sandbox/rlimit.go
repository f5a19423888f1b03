package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// setRlimits caps pid's data segment (heap and private writable mappings) at memBytes and the
// size of any file it writes at fileBytes. It is the fallback where no cgroup can limit the
// instance: it bounds one process, not its children together, and cannot report an OOM.
func setRlimits(pid int, memBytes, fileBytes int64) error {
	for _, l := range []struct {
		res  int
		name string
		v    uint64
	}{
		{unix.RLIMIT_DATA, "data", uint64(memBytes)},
		{unix.RLIMIT_FSIZE, "file size", uint64(fileBytes)},
		{unix.RLIMIT_CORE, "core", 0},
	} {
		if err := unix.Prlimit(pid, l.res, &unix.Rlimit{Cur: l.v, Max: l.v}, nil); err != nil {
			return fmt.Errorf("rlimit %s of %d: %w", l.name, pid, err)
		}
	}
	return nil
}
