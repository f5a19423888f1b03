package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// MaxOutput caps the output a Runner returns: a huge error list is cut, its length noted.
const MaxOutput = 64 << 10

// ErrOptionName marks an uploaded file whose name a toolchain would read as an option.
var ErrOptionName = errors.New("file name looks like an option")

// Command is one toolchain run of a deploy-time build over uploaded code. Its folders exist
// when it is handed to a Runner; one that runs the tool as another user makes the Write
// folders writable by that user.
type Command struct {
	Path  string   // the tool, an absolute path
	Args  []string // arguments, without the tool's name
	Env   []string // the whole environment: nothing of the node's is added
	Dir   string   // working directory
	Read  []string // host folders the tool reads besides the system ones (/usr, /etc pieces): the sources, a toolchain outside /usr
	Write []string // host folders the tool writes: its output, temporary and cache folders
	// Network says the tool needs outbound network (Go modules through the proxy).
	Network bool
}

// Runner runs a Command and returns its combined output (capped at MaxOutput), and an error when
// it failed or ctx ended.
type Runner interface {
	Run(ctx context.Context, c Command) ([]byte, error)
}

// Direct is a Runner that runs a Command as a plain child process of this one, with exactly the
// Command's environment and working folder, in its own process group killed whole when ctx ends.
// Read, Write and Network are not enforced: Direct is for hosts without a sandbox and for tests.
type Direct struct {
	// WaitDelay bounds the wait for the output after the process ended or was killed (children
	// holding its pipes); 5 seconds when zero.
	WaitDelay time.Duration
}

// Run runs c.
func (d Direct) Run(ctx context.Context, c Command) ([]byte, error) {
	if !filepath.IsAbs(c.Path) {
		return nil, fmt.Errorf("run %q: the tool is not an absolute path", c.Path)
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append([]string{}, c.Env...) // never nil: a nil Env would pass the node's own
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = d.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return out.bytes(), err
}

// capped keeps the first MaxOutput bytes written and counts the rest.
type capped struct {
	b       bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	room := max(MaxOutput-c.b.Len(), 0)
	if room < len(p) {
		c.dropped += len(p) - room
		p = p[:room]
	}
	c.b.Write(p)
	return n, nil
}

func (c *capped) bytes() []byte {
	if c.dropped == 0 {
		return c.b.Bytes()
	}
	return fmt.Appendf(c.b.Bytes(), "\n... %d more bytes of output left out\n", c.dropped)
}

// CheckNames walks the uploaded files under dir and refuses the first whose name, or the name
// of a folder on its way, starts with "-" or "@": a toolchain handed it would read an option or
// a file of options. The error wraps ErrOptionName and names the file relative to dir.
func CheckNames(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir || !strings.HasPrefix(d.Name(), "-") && !strings.HasPrefix(d.Name(), "@") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: %q: a name starting with %q is refused, rename it", ErrOptionName, rel, d.Name()[:1])
	})
}

// Scrub replaces, in a build's output, each host folder of names (a key) by its neutral name
// (the value: "$GOCACHE", "$OUT"), also where the folder is written with its symbolic links
// resolved. The name "." makes the paths under that folder relative ("/tmp/b/src/A.java" →
// "A.java"): give it to the sources' folder. Longer folders are replaced first, so a folder
// inside another keeps its own name. Folders are replaced wherever their text appears: give
// folders of unique names (a temporary folder, a cache folder), not a prefix of their siblings.
func Scrub(out []byte, names map[string]string) []byte {
	type pair struct{ from, to string }
	var pairs []pair
	add := func(dir, name string) {
		dir = filepath.Clean(dir)
		if dir == "/" || dir == "." {
			return
		}
		under := name + "/"
		if name == "." {
			under = ""
		}
		pairs = append(pairs, pair{dir + "/", under}, pair{dir, name})
	}
	for dir, name := range names {
		if dir == "" {
			continue
		}
		add(dir, name)
		if real, err := filepath.EvalSymlinks(dir); err == nil && real != filepath.Clean(dir) {
			add(real, name)
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if d := len(b.from) - len(a.from); d != 0 {
			return d
		}
		return strings.Compare(a.from, b.from)
	})
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.from, p.to)
	}
	return []byte(strings.NewReplacer(args...).Replace(string(out)))
}

// ToolDir is the root of the toolchain that tool belongs to (the folder above its bin folder,
// symbolic links followed), for Command.Read, when it lies outside the system folders every
// Runner shows; "" when it lies inside them (/usr/lib/jvm/..., /usr/local/go).
func ToolDir(tool string) string {
	real, err := filepath.EvalSymlinks(tool)
	if err != nil {
		real = tool
	}
	root := filepath.Dir(filepath.Dir(real))
	if root == "/" {
		return ""
	}
	for _, sys := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if root == sys || strings.HasPrefix(root, sys+"/") {
			return ""
		}
	}
	return root
}
