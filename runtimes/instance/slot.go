package instance

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fillSlot puts the tree of src into the empty folder dst: a hard link per file where src and
// dst share a file system (the code cache's files are never written after unpacking), a copy
// otherwise; folders are made, symbolic links recreated as they are.
func fillSlot(src, dst string) error {
	link := true
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			return os.Mkdir(target, 0o755)
		case t&fs.ModeSymlink != 0:
			to, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(to, target)
		case !t.IsRegular():
			return nil // sockets, devices: never part of a code package
		}
		if link {
			if err := os.Link(path, target); err == nil {
				return nil
			}
			link = false // another file system, or links refused: copy from now on
		}
		return copyFile(path, target)
	})
	if err != nil {
		return fmt.Errorf("fill code folder: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()|0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
