package catalog

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sluice.dev/runtimes/build"
	"sluice.dev/runtimes/dotnet"
)

// dotnetInstall is what to install for the dotnet runtime: Mono's runtime, its C# compiler and
// the framework library the bootstrap's JSON comes from.
const dotnetInstall = "apt-get install mono-runtime mono-mcs libmono-system-web-extensions4.0-cil"

// dotnetSpec is the dotnet (C#) runtime: mono running the bootstrap assembly compiled from
// package dotnet; functions' .cs sources are compiled at deploy.
func dotnetSpec() spec {
	return spec{
		id:        "dotnet",
		tool:      "mono",
		install:   dotnetInstall,
		preferred: []string{"/usr/bin/mono"},
		bootName:  "bootstrap.exe",
		slowStart: true,
		args: func(boot string, memoryMB int) []string {
			if memoryMB <= 0 {
				return []string{boot}
			}
			return []string{"--gc-params=max-heap-size=" + strconv.Itoa(max(16, memoryMB*85/100)) + "m", boot}
		},
		handler:   dotnetHandler,
		compile:   compileDotnet,
		build:     buildDotnet,
		startOnly: dotnetStartOnly,
	}
}

// dotnetStartOnly reports the variables Mono reads only when it starts: its own (MONO_GC_PARAMS,
// MONO_ENV_OPTIONS, MONO_PATH, ...) and the locale.
func dotnetStartOnly(k string) bool {
	return strings.HasPrefix(k, "MONO_") || k == "LANG" || strings.HasPrefix(k, "LC_")
}

var dotnetHandlerRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\+[A-Za-z_][A-Za-z0-9_]*)*::[A-Za-z_][A-Za-z0-9_]*$`)

// dotnetHandler accepts Namespace.Class::Method (Outer+Inner for a nested class). C# code is
// never one inline file: InlineFile is "".
func dotnetHandler(h string) (string, error) {
	if !dotnetHandlerRE.MatchString(h) {
		return "", fmt.Errorf("%w %q: dotnet handlers are Namespace.Class::Method", ErrBadHandler, h)
	}
	return "", nil
}

// mcs finds Mono's C# compiler beside mono.
func mcs(interp string) (string, error) {
	p, err := sibling(interp, "mcs")
	if err != nil {
		return "", fmt.Errorf("runtime dotnet needs mcs on the worker: %s (%w: %w)", dotnetInstall, ErrMissingToolchain, err)
	}
	return p, nil
}

// dotnetBootstrap is the compiled bootstrap assembly, cached per sources and Mono. The
// rehearsal assembly is compiled first and goes into it as a resource.
func dotnetBootstrap(interp string) ([]byte, error) {
	key, files, err := embedded(dotnet.Sources)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(dotnet.Rehearsal, "rehearsal")
	if err != nil {
		return nil, err
	}
	rkey, rfiles, err := embedded(sub)
	if err != nil {
		return nil, err
	}
	real, _ := filepath.EvalSymlinks(interp)
	key = append(append(key, rkey...), real)
	return compiledBootstrap("dotnet.exe", key, func(ctx context.Context, tmp string) (string, error) {
		cc, err := mcs(interp)
		if err != nil {
			return "", err
		}
		rehearsal := filepath.Join(tmp, dotnet.RehearsalAssembly)
		if err := runMcs(ctx, cc, tmp, "rehearsal", rfiles, "-target:library", "-out:"+rehearsal); err != nil {
			return "", err
		}
		out := filepath.Join(tmp, dotnet.Assembly)
		args := []string{"-out:" + out, "-resource:" + rehearsal + "," + dotnet.RehearsalAssembly}
		for _, r := range dotnet.References {
			args = append(args, "-r:"+r)
		}
		if err := runMcs(ctx, cc, tmp, "bootstrap", files, args...); err != nil {
			return "", err
		}
		return out, nil
	})
}

// runMcs writes files into tmp/sub and compiles them with the mcs at cc and args.
func runMcs(ctx context.Context, cc, tmp, sub string, files map[string][]byte, args ...string) error {
	dir := filepath.Join(tmp, sub)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	args = append([]string{"-nologo", "-optimize+"}, args...)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
		args = append(args, filepath.Join(dir, name))
	}
	b, err := build.Direct{}.Run(ctx, build.Command{Path: cc, Args: args, Env: toolEnv(cc, tmp), Dir: tmp})
	if err != nil {
		return fmt.Errorf("mcs %s: %w (is %s done?)\n%s", sub, err, dotnetInstall, b)
	}
	return nil
}

// compileDotnet writes the bootstrap assembly at boot.
func compileDotnet(interp, boot string) error {
	b, err := dotnetBootstrap(interp)
	if err != nil {
		return err
	}
	return writeFile(boot, string(b))
}

// buildDotnet compiles a function's .cs sources at deploy into function.dll, against the
// bootstrap assembly (for ILambdaContext) and the package's own assemblies, which are kept. A
// package without sources runs as uploaded.
//
// mcs runs through j.run without network, reading the package and the bootstrap assembly,
// writing dst and a home folder. The sources come after "--", so none is read as an option, and
// a package with a name mcs would still read as one ("@" starts a response file) is refused, as
// are source names with mcs's wildcards and assembly names with its list separators.
func buildDotnet(ctx context.Context, j buildJob) ([]byte, error) {
	sources, note, err := stageSources(j.src, j.dst, ".cs", "the assemblies run as uploaded")
	if err != nil || len(sources) == 0 {
		return note, err
	}
	if err := refuseNames(j.src); err != nil {
		return nil, err
	}
	for _, s := range sources {
		if strings.ContainsAny(s, "*?") || strings.HasPrefix(s, "/") {
			return nil, fmt.Errorf("%w: %q: mcs would read the name as a pattern, rename it", ErrBuild, s)
		}
	}
	dlls, _ := filepath.Glob(filepath.Join(j.src, "*.dll"))
	for _, d := range dlls {
		if name := filepath.Base(d); strings.ContainsAny(name, ",;") {
			return nil, fmt.Errorf("%w: %q: mcs would read the name as a list of assemblies, rename it", ErrBuild, name)
		}
	}
	cc, err := mcs(j.tool)
	if err != nil {
		return nil, err
	}
	boot, err := dotnetBootstrap(j.tool)
	if err != nil {
		return nil, err
	}
	tmp, in, home, err := buildDirs("sluice-mcs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ref := filepath.Join(in, dotnet.Assembly)
	if err := os.WriteFile(ref, boot, 0o644); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	args := []string{"-nologo", "-target:library", "-optimize+", "-out:" + filepath.Join(j.dst, "function.dll"), "-r:" + ref}
	for _, r := range dotnet.References {
		args = append(args, "-r:"+r)
	}
	for _, d := range dlls {
		args = append(args, "-r:"+d)
	}
	args = append(append(args, "--"), sources...)
	out, err := j.run.Run(ctx, build.Command{
		Path:  cc,
		Args:  args,
		Env:   toolEnv(cc, home),
		Dir:   j.src,
		Read:  readDirs(cc, j.src, in),
		Write: []string{j.dst, home},
	})
	out = scrub(out, j, tmp)
	if err != nil {
		return out, fmt.Errorf("%w: mcs: %w", ErrBuild, err)
	}
	return out, nil
}
