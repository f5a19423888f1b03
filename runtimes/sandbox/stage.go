package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"sluice.dev/runtimes/internal/sweep"
)

// stage makes folders the sandbox uid cannot reach (a private data folder) reachable by
// bubblewrap: bubblewrap resolves every source path as that uid, so the worker bind-mounts
// each instance's code and runtime folders, read-only, into a folder of its own that the uid
// can traverse but not list. The stage is a private mount, so nothing propagates elsewhere.
type stage struct {
	dir string
}

const stagePrefix = "sluice-sandbox-"

// newStage makes a stage of this process under the temporary folder, after clearing stages left
// by workers that died.
func newStage() (*stage, error) {
	base := os.TempDir()
	sweep.Dead(base, sweep.Prefixed(stagePrefix), clearStage) // those of workers that died
	dir, err := os.MkdirTemp(base, stagePrefix+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("stage: bind %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = os.Remove(dir)
		return nil, fmt.Errorf("stage: make %s private: %w", dir, err)
	}
	return &stage{dir: dir}, nil
}

// jailDir makes the stage's folder for one jail, entered only by owner (a uid; -1 keeps root).
// Other instances' uids cannot reach what is staged in it, even knowing its name.
func (st *stage) jailDir(name string, owner int) (string, error) {
	d := filepath.Join(st.dir, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		return "", fmt.Errorf("stage: %w", err)
	}
	if owner >= 0 {
		if err := os.Chown(d, owner, owner); err != nil {
			_ = os.Remove(d)
			return "", fmt.Errorf("stage: %w", err)
		}
	}
	return d, nil
}

// bind shows src at a new path of dir (a jail's folder), read-only unless rw, and returns it.
func (st *stage) bind(dir, name, src string, rw bool) (string, error) {
	target := filepath.Join(dir, name)
	if err := os.Mkdir(target, 0o755); err != nil {
		return "", fmt.Errorf("stage %s: %w", src, err)
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		_ = os.Remove(target)
		return "", fmt.Errorf("stage %s: %w", src, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV)
	if !rw {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		st.unbind(target)
		return "", fmt.Errorf("stage %s read-only: %w", src, err)
	}
	return target, nil
}

// unbind removes a staged path. Only an emptied mount point is removed, never what it shows.
func (st *stage) unbind(target string) {
	_ = unix.Unmount(target, unix.MNT_DETACH)
	_ = os.Remove(target)
}

// close removes the stage (its instances are released first).
func (st *stage) close() {
	clearStage(st.dir)
}

// clearStage removes a stage: its jails' folders, the mounts in them, and itself. Only emptied
// mount points are removed, never what they show.
func clearStage(dir string) {
	jails, _ := os.ReadDir(dir)
	for _, jd := range jails {
		jp := filepath.Join(dir, jd.Name())
		entries, _ := os.ReadDir(jp)
		for _, e := range entries {
			p := filepath.Join(jp, e.Name())
			_ = unix.Unmount(p, unix.MNT_DETACH)
			_ = os.Remove(p) // fails, harmlessly, on anything still mounted or not empty
		}
		_ = os.Remove(jp)
	}
	_ = unix.Unmount(dir, unix.MNT_DETACH)
	_ = os.Remove(dir)
}
