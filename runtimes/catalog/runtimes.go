package catalog

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sluice.dev/runtimes/nodejs"
	"sluice.dev/runtimes/python"
)

// spec describes one runtime. Each runtime is one entry of specs.
type spec struct {
	id        string
	tool      string   // the interpreter's name on PATH
	install   string   // what to install when it is missing
	preferred []string // absolute paths tried before PATH
	probe     []string // arguments that make the interpreter print its real path
	bootName  string   // file name the bootstrap is written as
	bootstrap string   // bootstrap source
	env       []string // the runtime's own variables for the process
	// args is the command line after the interpreter path.
	args func(bootstrap string, memoryMB int) []string
	// handler validates a handler and returns the inline file name for it.
	handler func(h string) (inline string, err error)
	// build, when set, turns an uploaded package (unpacked in j.src) into what instances run
	// (written to j.dst) once per deployed version, with the toolchain at j.tool run through
	// j.run: compiling C# sources, go build. It returns the build's output, shown to whoever
	// deployed.
	build func(ctx context.Context, j buildJob) (output []byte, err error)
	// startOnly, when set, says the bootstrap can be pre-started and specialised, and reports
	// the variables the interpreter reads only when it starts (a function setting one needs a
	// process started for it).
	startOnly func(name string) bool
	// exec, when set, names the executable in the function's own code that instances run (go,
	// custom): no interpreter, no bootstrap of the catalog's; tool is then needed by build only.
	exec string
	// compile, when set, makes the bootstrap file at boot (in the bootstrap folder) from the
	// runtime's sources with the toolchain of interp, once at New (a cached copy when the same
	// sources were compiled by the same toolchain before); bootstrap is then unused.
	compile func(interp, boot string) error
	// slowStart says the interpreter takes hundreds of milliseconds of CPU to start (a virtual
	// machine with a JIT): a warm pool pre-starts the others first.
	slowStart bool
	// concurrent says the bootstrap serves several invocations at once (AWS_LAMBDA_MAX_CONCURRENCY,
	// one pending /next per invocation, lines tagged with their invocation; see runtimeapi).
	concurrent bool
}

// specs lists the runtimes this worker knows, in the order IDs reports them.
func specs() []spec {
	return []spec{{
		id:        "nodejs",
		tool:      "node",
		install:   "apt-get install nodejs",
		preferred: []string{"/usr/bin/node"},
		probe:     []string{"-p", "process.execPath"},
		bootName:  "bootstrap.cjs",
		bootstrap: nodejs.Bootstrap,
		args: func(boot string, memoryMB int) []string {
			if memoryMB <= 0 {
				return []string{boot}
			}
			return []string{"--max-old-space-size=" + strconv.Itoa(max(16, memoryMB*9/10)), boot}
		},
		handler:    nodeHandler,
		concurrent: true,
		startOnly: func(k string) bool {
			switch k {
			case "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_ICU_DATA", "UV_THREADPOOL_SIZE":
				return true
			}
			return false
		},
	}, {
		id:        "python",
		tool:      "python3",
		install:   "apt-get install python3",
		preferred: []string{"/usr/bin/python3"},
		probe:     []string{"-c", "import sys; print(sys.executable)"},
		bootName:  "bootstrap.py",
		bootstrap: python.Bootstrap,
		env:       []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"},
		args:      func(boot string, _ int) []string { return []string{"-u", "-B", boot} },
		handler:   pythonHandler,
		startOnly: func(k string) bool {
			// PYTHONPATH is applied at specialisation; the locale picks the interpreter's encodings.
			return strings.HasPrefix(k, "PYTHON") && k != "PYTHONPATH" || k == "LANG" || strings.HasPrefix(k, "LC_")
		},
	},
		phpSpec(),
		javaSpec(),
		dotnetSpec(),
	}
}

var (
	pythonHandlerRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)
	nodeFileRE      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	nodeExportRE    = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)
)

// pythonHandler accepts module.function, the module possibly dotted (pkg.mod.fn).
func pythonHandler(h string) (string, error) {
	if !pythonHandlerRE.MatchString(h) {
		return "", fmt.Errorf("%w %q: python handlers are module.function (pkg.module.function for a package)", ErrBadHandler, h)
	}
	mod := h[:strings.LastIndexByte(h, '.')]
	return strings.ReplaceAll(mod, ".", "/") + ".py", nil
}

// nodeHandler accepts file.export, the file possibly in folders (lib/app.handler); the file name
// ends at the first dot after the last slash.
func nodeHandler(h string) (string, error) {
	bad := fmt.Errorf("%w %q: nodejs handlers are file.export (lib/file.export for a file in a folder)", ErrBadHandler, h)
	slash := strings.LastIndexByte(h, '/')
	dot := strings.IndexByte(h[slash+1:], '.')
	if dot <= 0 || !nodeExportRE.MatchString(h[slash+1+dot+1:]) {
		return "", bad
	}
	file := h[:slash+1+dot]
	for _, seg := range strings.Split(file, "/") {
		if seg == "." || seg == ".." || !nodeFileRE.MatchString(seg) {
			return "", bad
		}
	}
	return file + ".js", nil
}
