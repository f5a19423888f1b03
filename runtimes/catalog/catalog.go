package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice.dev/runtimes/build"
	"sluice.dev/runtimes/internal/sweep"
)

// Errors of the catalog, checkable with errors.Is.
var (
	ErrUnknownRuntime   = errors.New("unknown runtime")
	ErrBadHandler       = errors.New("bad handler")
	ErrMissingToolchain = errors.New("toolchain missing")
	ErrBuild            = errors.New("build failed") // the function's code does not build; the output says why
)

// Options configure a Catalog. The zero value resolves everything from the system.
type Options struct {
	// Interpreters maps a runtime id to an interpreter path that replaces resolution
	// ("python": "/opt/python3.12/bin/python3").
	Interpreters map[string]string
	// BootstrapDir is where bootstraps are written; when empty a new temporary folder is made
	// and Close removes it.
	BootstrapDir string
	// LookPath searches PATH; exec.LookPath when nil.
	LookPath func(file string) (string, error)
	// CacheDir is where deploy-time builds keep what they can reuse (Go's module and build
	// caches); when empty, a sluice folder in the user's cache folder (os.UserCacheDir).
	CacheDir string
	// Getenv reads the node's environment for the few variables a build passes on (GOPROXY,
	// GOSUMDB, proxies); os.Getenv when nil.
	Getenv func(key string) string
	// Runner runs every toolchain command of Build over uploaded code (javac, mcs, the go
	// command), a sandbox on a node that has one; build.Direct when nil. The compilation of the
	// runtimes' own bootstraps at New runs directly.
	Runner build.Runner
}

// cacheDir is the build cache root of o.
func (o Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sluice")
	}
	return filepath.Join(os.TempDir(), "sluice-cache")
}

// seedDir is where Go builds keep their seeds: the user's cache folder, shared by every node
// and test of the host, so that a toolchain's standard library is compiled once per host (see
// package gobuild); "" (each cache root its own) when there is none.
func (o Options) seedDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sluice", "go-seed")
	}
	return ""
}

func (o Options) getenv(key string) string {
	if o.Getenv != nil {
		return o.Getenv(key)
	}
	return os.Getenv(key)
}

// Command is how to start an instance's bootstrap.
type Command struct {
	Path string   // the interpreter, an absolute path
	Args []string // the whole argument vector, Args[0] included
	Env  []string // the runtime's own variables (KEY=VALUE), set after the function's
	// InCode says Path (and Args[0]) is a file of the function's code, relative to its code
	// folder (go and custom runtimes run the package's own bootstrap): the instance joins it
	// to the folder.
	InCode bool
}

// Catalog is the set of runtimes of one worker. It is immutable after New.
type Catalog struct {
	runtimes map[string]*runtime
	ids      []string
	dir      string
	ownDir   bool
	runner   build.Runner
}

type runtime struct {
	spec
	interp string // resolved interpreter
	boot   string // bootstrap path
	err    error  // why this runtime cannot run here
}

// New resolves every runtime's interpreter and writes the bootstraps, once. Problems are kept
// per runtime and reported by Check and Command.
func New(opts Options) *Catalog {
	look := opts.LookPath
	if look == nil {
		look = exec.LookPath
	}
	c := &Catalog{runtimes: map[string]*runtime{}, dir: opts.BootstrapDir, runner: opts.Runner}
	if c.runner == nil {
		c.runner = build.Direct{}
	}
	var dirErr error
	if c.dir == "" {
		// Those of workers killed before Close go first.
		sweep.Dead(os.TempDir(), sweep.Prefixed(bootstrapPrefix), func(p string) { _ = os.RemoveAll(p) })
		c.dir, dirErr = os.MkdirTemp("", bootstrapPrefix+strconv.Itoa(os.Getpid())+"-")
		c.ownDir = dirErr == nil
		if dirErr == nil {
			dirErr = os.Chmod(c.dir, 0o755) // readable by the unprivileged uid of a sandbox
		}
	} else {
		dirErr = os.MkdirAll(c.dir, 0o755)
	}
	if dirErr != nil {
		dirErr = fmt.Errorf("bootstrap folder: %w", dirErr)
	}
	for _, s := range allSpecs(opts) {
		r := &runtime{spec: s}
		c.runtimes[s.id] = r
		c.ids = append(c.ids, s.id)
		if s.tool == "" { // nothing to resolve: the code brings its own executable
			continue
		}
		r.interp, r.err = resolve(s, opts.Interpreters[s.id], look)
		if r.err != nil || s.exec != "" {
			continue
		}
		if dirErr != nil {
			r.err = dirErr
			continue
		}
		r.boot = filepath.Join(c.dir, s.id+"-"+s.bootName)
		if s.compile != nil {
			r.err = s.compile(r.interp, r.boot)
		} else {
			r.err = writeFile(r.boot, s.bootstrap)
		}
	}
	slices.Sort(c.ids)
	return c
}

// bootstrapPrefix starts the name of a bootstrap folder New makes: sluice-bootstrap-PID-RANDOM.
const bootstrapPrefix = "sluice-bootstrap-"

// Close removes the bootstrap folder when New made it.
func (c *Catalog) Close() error {
	if !c.ownDir {
		return nil
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove bootstrap folder: %w", err)
	}
	return nil
}

// IDs lists the runtime ids the catalog knows, sorted, whether or not their toolchain is here.
func (c *Catalog) IDs() []string { return slices.Clone(c.ids) }

func (c *Catalog) lookup(id string) (*runtime, error) {
	r, ok := c.runtimes[id]
	if !ok {
		return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownRuntime, id, strings.Join(c.ids, ", "))
	}
	return r, nil
}

// Validate checks that runtime is known and handler has that runtime's form.
func (c *Catalog) Validate(runtime, handler string) error {
	r, err := c.lookup(runtime)
	if err != nil {
		return err
	}
	_, err = r.handler(handler)
	return err
}

// Check reports whether this worker can run runtime: its interpreter was found and its
// bootstrap written. The error names what to install. Runtimes whose code brings its own
// executable (go, custom) can always run; a missing build toolchain is Build's error.
func (c *Catalog) Check(runtime string) error {
	r, err := c.lookup(runtime)
	if err != nil {
		return err
	}
	if r.exec != "" {
		return nil
	}
	return r.err
}

// Interpreter is the resolved interpreter of runtime ("" when unknown or missing).
func (c *Catalog) Interpreter(runtime string) string {
	if r, ok := c.runtimes[runtime]; ok && r.err == nil {
		return r.interp
	}
	return ""
}

// Command is the command line that starts runtime's bootstrap for a function given memoryMB.
func (c *Catalog) Command(runtime string, memoryMB int) (Command, error) {
	r, err := c.lookup(runtime)
	if err != nil {
		return Command{}, err
	}
	if r.exec != "" {
		return Command{Path: r.exec, Args: []string{r.exec}, Env: slices.Clone(r.env), InCode: true}, nil
	}
	if r.err != nil {
		return Command{}, r.err
	}
	return Command{
		Path: r.interp,
		Args: append([]string{r.interp}, r.args(r.boot, memoryMB)...),
		Env:  slices.Clone(r.env),
	}, nil
}

// Builds reports whether a runtime builds a function's code at deploy (see Build).
func (c *Catalog) Builds(runtime string) bool {
	rt, err := c.lookup(runtime)
	return err == nil && rt.build != nil
}

// Build turns a function's uploaded package, unpacked in src, into what its instances run,
// written to the empty folder dst, for runtimes that compile at deploy. It runs once per
// deployed version of function, whose name keys the caches its builds keep (Go's build and
// module caches: one function's builds never share them with another's). Every toolchain
// command runs through Options.Runner with an environment of its own (nothing of the node's
// but the few variables a Go build passes on) and a list of the folders it reads and writes. A
// package holding a name a toolchain would read as an option ("-d x.java", "@file.cs") is
// refused, naming it. output is the toolchain's own output, for the person deploying, with the
// node's folders replaced by neutral names; a build that fails returns an error wrapping
// ErrBuild with that output. Runtimes without a build step copy nothing and return an error:
// check Builds first.
func (c *Catalog) Build(ctx context.Context, function, runtime, handler, src, dst string) (output []byte, err error) {
	rt, err := c.lookup(runtime)
	if err != nil {
		return nil, err
	}
	if rt.build == nil {
		return nil, fmt.Errorf("runtime %s has no build step", runtime)
	}
	if function == "" {
		return nil, errors.New("build: no function name")
	}
	if rt.err != nil && rt.exec == "" {
		return nil, rt.err
	}
	j := buildJob{run: c.runner, tool: rt.interp, function: function, handler: handler}
	if j.src, err = filepath.Abs(src); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if j.dst, err = filepath.Abs(dst); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	// A runtime whose code brings its executable builds with tool "" when the toolchain is
	// missing: a prebuilt package needs none, a source package fails with ErrMissingToolchain.
	out, err := rt.build(ctx, j)
	if errors.Is(err, ErrMissingToolchain) && rt.err != nil {
		err = rt.err
	}
	return out, err
}

// buildJob is one Build: the uploaded package in src, the empty output folder dst.
type buildJob struct {
	run      build.Runner
	tool     string // the runtime's resolved toolchain (the interpreter; go for go); "" when missing
	function string // the function's name, keying its build caches
	handler  string
	src, dst string // absolute
}

// StartsSlowly reports whether runtime's interpreter takes hundreds of milliseconds of CPU to
// start (java, dotnet), against tens for the others.
func (c *Catalog) StartsSlowly(runtime string) bool {
	r, ok := c.runtimes[runtime]
	return ok && r.slowStart
}

// Specializable reports whether a function of runtime with env can run on a pre-started generic
// process of that runtime, specialised when assigned (see package runtimeapi): the runtime's
// bootstrap can do that, its toolchain is here, and env sets none of the variables the
// interpreter reads only when it starts (PYTHONHASHSEED, NODE_OPTIONS, ...); such a function
// needs a process started for it.
func (c *Catalog) Specializable(runtime string, env map[string]string) bool {
	r, ok := c.runtimes[runtime]
	if !ok || r.err != nil || r.startOnly == nil {
		return false
	}
	for k := range env {
		if r.startOnly(k) {
			return false
		}
	}
	return true
}

// Concurrent reports whether runtime's bootstrap serves several invocations of one instance at
// once, so that a function of it may have a concurrency above 1.
func (c *Catalog) Concurrent(runtime string) bool {
	r, ok := c.runtimes[runtime]
	return ok && r.concurrent
}

// ConcurrentRuntimes lists, sorted, the runtimes that can serve several invocations of one
// instance at once.
func (c *Catalog) ConcurrentRuntimes() []string {
	var out []string
	for _, id := range c.ids {
		if c.runtimes[id].concurrent {
			out = append(out, id)
		}
	}
	return out
}

// InlineFile is the file name one-file inline code is stored as for runtime and handler
// (python main.handler → main.py, nodejs index.handler → index.js); "" when either is invalid.
func InlineFile(runtime, handler string) string {
	for _, s := range allSpecs(Options{}) {
		if s.id == runtime {
			name, err := s.handler(handler)
			if err != nil {
				return ""
			}
			return name
		}
	}
	return ""
}

// resolve finds s's interpreter: override, else a preferred path, else PATH. A script found
// there (a version manager's shim) is asked for the real interpreter once.
func resolve(s spec, override string, look func(string) (string, error)) (string, error) {
	missing := func(err error) error {
		return fmt.Errorf("runtime %s needs %s on the worker: %s (%w: %w)", s.id, s.tool, s.install, ErrMissingToolchain, err)
	}
	path := override
	switch {
	case override != "":
		if err := executable(override); err != nil {
			return "", missing(err)
		}
	default:
		for _, p := range s.preferred {
			if executable(p) == nil {
				return p, nil
			}
		}
		p, err := look(s.tool)
		if err != nil {
			return "", missing(err)
		}
		if path, err = filepath.Abs(p); err != nil {
			return "", missing(err)
		}
	}
	if !isScript(path) {
		return path, nil
	}
	real, err := probe(path, s.probe)
	if err != nil {
		return "", missing(fmt.Errorf("%s is a script and did not name its interpreter: %w", path, err))
	}
	return real, nil
}

// probe runs a shim once to learn the interpreter it would run.
func probe(path string, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		return "", err
	}
	real := strings.TrimSpace(string(out))
	if !filepath.IsAbs(real) {
		return "", fmt.Errorf("it printed %q, not an absolute path", real)
	}
	if err := executable(real); err != nil {
		return "", err
	}
	if isScript(real) {
		return "", fmt.Errorf("%s is a script too", real)
	}
	return real, nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [2]byte
	_, err = io.ReadFull(f, head[:])
	return err == nil && bytes.Equal(head[:], []byte("#!"))
}

// writeFile writes a bootstrap atomically, so catalogs sharing a folder never see half a file.
func writeFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bootstrap-*")
	if err != nil {
		return fmt.Errorf("write bootstrap: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up on failure
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("write bootstrap: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write bootstrap: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bootstrap: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write bootstrap: %w", err)
	}
	return nil
}
