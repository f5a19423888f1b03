package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sluice.dev/runtimes/build"
	"sluice.dev/runtimes/java"
)

// javaInstall is what to install for the java runtime: a JDK, whose javac compiles the bootstrap
// (once; the jar is cached) and functions uploaded as .java sources.
const javaInstall = "apt-get install default-jdk-headless"

// javaSpec is the java runtime: the JVM running the bootstrap jar compiled from package java.
func javaSpec() spec {
	return spec{
		id:        "java",
		tool:      "java",
		install:   javaInstall,
		preferred: []string{"/usr/bin/java"},
		bootName:  "bootstrap.jar",
		slowStart: true,
		args: func(boot string, memoryMB int) []string {
			args := []string{"-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1",
				"-Dfile.encoding=UTF-8", "-Djava.io.tmpdir=/tmp"}
			if memoryMB <= 0 {
				// A pre-started JVM's heap cannot be sized for a function it does not know yet: it
				// may grow to what the largest memory setting allows, and the sandbox's memory
				// limit, set to the function's at specialisation, bounds it.
				memoryMB = GenericMemoryMB
			}
			args = append(args, "-Xmx"+strconv.Itoa(max(16, memoryMB*85/100))+"m")
			return append(args, "-cp", boot, java.MainClass)
		},
		handler:   javaHandler,
		compile:   compileJava,
		build:     buildJava,
		startOnly: javaStartOnly,
	}
}

// GenericMemoryMB is the memory setting a pre-started JVM sizes its largest heap for: the
// largest a function may have. The sandbox's memory limit, the function's own once specialised,
// is what bounds it.
const GenericMemoryMB = 10240

// javaStartOnly reports the variables the JVM reads only when it starts: its options, the class
// path and the locale.
func javaStartOnly(k string) bool {
	switch k {
	case "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "LANG":
		return true
	}
	return strings.HasPrefix(k, "LC_")
}

var javaHandlerRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*(::[A-Za-z_$][A-Za-z0-9_$]*)?$`)

// javaHandler accepts pkg.Class::method, or pkg.Class for its handleRequest method. Java code
// is never one inline file: InlineFile is "".
func javaHandler(h string) (string, error) {
	if !javaHandlerRE.MatchString(h) {
		return "", fmt.Errorf("%w %q: java handlers are pkg.Class::method (or pkg.Class for its handleRequest)", ErrBadHandler, h)
	}
	return "", nil
}

// javac finds the compiler of the JDK that interp belongs to.
func javac(interp string) (string, error) {
	p, err := sibling(interp, "javac")
	if err != nil {
		return "", fmt.Errorf("runtime java needs javac on the worker: %s (%w: %w)", javaInstall, ErrMissingToolchain, err)
	}
	return p, nil
}

// compileJava compiles the bootstrap into the jar at boot, once per sources and JDK (cached).
func compileJava(interp, boot string) error {
	key, files, err := embedded(java.Sources)
	if err != nil {
		return err
	}
	real, _ := filepath.EvalSymlinks(interp)
	key = append(key, real)
	b, err := compiledBootstrap("java.jar", key, func(ctx context.Context, tmp string) (string, error) {
		jc, err := javac(interp)
		if err != nil {
			return "", err
		}
		src, classes := filepath.Join(tmp, "src"), filepath.Join(tmp, "classes")
		// String concatenation compiled to StringBuilder calls, not invokedynamic: each of those
		// call sites costs a linkage the first time it runs, in a specialisation among others.
		args := []string{"-encoding", "UTF-8", "-nowarn", "-XDstringConcat=inline", "-d", classes}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(src, name), content, 0o644); err != nil {
				return "", err
			}
			args = append(args, filepath.Join(src, name))
		}
		out, err := build.Direct{}.Run(ctx, build.Command{Path: jc, Args: args, Env: toolEnv(jc, tmp), Dir: tmp})
		if err != nil {
			return "", fmt.Errorf("javac: %w\n%s", err, out)
		}
		jar := filepath.Join(tmp, "bootstrap.jar")
		return jar, zipDir(classes, jar)
	})
	if err != nil {
		return err
	}
	return writeFile(boot, string(b))
}

// buildJava compiles a function's .java sources at deploy: every other file (jars, classes,
// resources) is kept as uploaded, and the sources compile against them and the bootstrap's
// Context API into dst. A package without sources runs as uploaded.
//
// javac runs through j.run with annotation processing off (-proc:none: a processor in one of
// the package's jars would otherwise run on the node), without network, reading the package and
// the API, writing dst and a home folder; the sources reach it in an argument file, each one
// quoted, and a package with a name that javac would read as an option is refused.
func buildJava(ctx context.Context, j buildJob) ([]byte, error) {
	sources, note, err := stageSources(j.src, j.dst, ".java", "the classes and jars run as uploaded")
	if err != nil || len(sources) == 0 {
		return note, err
	}
	if err := refuseNames(j.src); err != nil {
		return nil, err
	}
	jc, err := javac(j.tool)
	if err != nil {
		return nil, err
	}
	tmp, in, home, err := buildDirs("sluice-javac-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	api := filepath.Join(in, "api")
	pkg := filepath.Join(api, "dev", "sluice", "runtime")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	for _, name := range java.API {
		b, err := java.Sources.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		if err := os.WriteFile(filepath.Join(pkg, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	cp := []string{j.src}
	for _, d := range []string{j.src, filepath.Join(j.src, "lib")} {
		jars, _ := filepath.Glob(filepath.Join(d, "*.jar"))
		for _, jar := range jars {
			if rel, _ := filepath.Rel(j.src, jar); strings.ContainsRune(rel, os.PathListSeparator) {
				return nil, fmt.Errorf("%w: %q: a jar name with %q is refused, rename it", ErrBuild, rel, os.PathListSeparator)
			}
		}
		cp = append(cp, jars...)
	}
	var list strings.Builder
	for _, s := range sources {
		list.WriteString(argfileQuote(s) + "\n")
	}
	argfile := filepath.Join(in, "sources")
	if err := os.WriteFile(argfile, []byte(list.String()), 0o644); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	out, err := j.run.Run(ctx, build.Command{
		Path: jc,
		Args: []string{"-J-XX:-UsePerfData", "-J-Djava.io.tmpdir=" + home, "-J-Dfile.encoding=UTF-8",
			"-encoding", "UTF-8", "-proc:none", "-implicit:none", "-d", j.dst,
			"-sourcepath", api, "-cp", strings.Join(cp, string(os.PathListSeparator)), "@" + argfile},
		Env:   toolEnv(jc, home),
		Dir:   j.src,
		Read:  readDirs(jc, j.src, in),
		Write: []string{j.dst, home},
	})
	out = scrub(out, j, tmp)
	if err != nil {
		return out, fmt.Errorf("%w: javac: %w", ErrBuild, err)
	}
	return append(out, fmt.Sprintf("javac: compiled %d source file(s)\n", len(sources))...), nil
}

// argfileQuote quotes s as one argument of a javac argument file: in double quotes, with
// backslash escapes for the backslash, the double quote and the characters that would end or
// bend the line, so a file name with spaces or quotes stays one file name.
func argfileQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
