package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

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
		args: func(boot string, memoryMB int) []string {
			args := []string{"-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData", "-Dfile.encoding=UTF-8", "-Djava.io.tmpdir=/tmp"}
			if memoryMB > 0 {
				args = append(args, "-Xmx"+strconv.Itoa(max(16, memoryMB*85/100))+"m")
			}
			return append(args, "-cp", boot, java.MainClass)
		},
		handler: javaHandler,
		compile: compileJava,
		build:   buildJava,
	}
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
		args := []string{"-encoding", "UTF-8", "-nowarn", "-d", classes}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(src, name), content, 0o644); err != nil {
				return "", err
			}
			args = append(args, filepath.Join(src, name))
		}
		if out, err := run(ctx, tmp, jc, args...); err != nil {
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
func buildJava(ctx context.Context, tool, _, src, dst string) ([]byte, error) {
	sources, note, err := stageSources(src, dst, ".java", "the classes and jars run as uploaded")
	if err != nil || len(sources) == 0 {
		return note, err
	}
	jc, err := javac(tool)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sluice-javac-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	api := filepath.Join(tmp, "api", "dev", "sluice", "runtime")
	if err := os.MkdirAll(api, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	for _, name := range java.API {
		b, err := java.Sources.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		if err := os.WriteFile(filepath.Join(api, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	cp := []string{src}
	for _, d := range []string{src, filepath.Join(src, "lib")} {
		jars, _ := filepath.Glob(filepath.Join(d, "*.jar"))
		cp = append(cp, jars...)
	}
	argfile := filepath.Join(tmp, "sources")
	if err := os.WriteFile(argfile, []byte(strings.Join(sources, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	out, err := run(ctx, src, jc, "-encoding", "UTF-8", "-d", dst, "-implicit:none",
		"-sourcepath", filepath.Join(tmp, "api"), "-cp", strings.Join(cp, string(os.PathListSeparator)), "@"+argfile)
	if err != nil {
		return out, fmt.Errorf("%w: javac: %w", ErrBuild, err)
	}
	return append(out, fmt.Sprintf("javac: compiled %d source file(s)\n", len(sources))...), nil
}
