package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// coldRuntime is one runtime's cold-start measurement: a hello function and the bare start of
// the interpreter the worker runs it with.
type coldRuntime struct {
	runtime, handler, code string
	// files, when set, are the function's sources, deployed as a folder (--source) instead of
	// inline code: Java and C# are compiled at deploy.
	files map[string]string
	bare  []string // the bare interpreter start, e.g. python3 -c pass
	// bareHello, when set, compiles a hello program in dir and returns the command running it
	// (java -cp DIR Hello, mono hello.exe), the bare start of a VM that has no -c.
	bareHello func(ctx context.Context, dir string) ([]string, error)
}

var coldRuntimes = []coldRuntime{
	{runtime: "python", handler: "main.handler",
		code: "def handler(event, context):\n    return {'hello': 'world'}\n",
		bare: []string{interpreter("python3"), "-c", "pass"}},
	{runtime: "nodejs", handler: "index.handler",
		code: "exports.handler = async () => ({hello: 'world'});\n",
		bare: []string{interpreter("node"), "-e", "0"}},
	{runtime: "java", handler: "example.Hello::handleRequest",
		files: map[string]string{"example/Hello.java": `package example;

import java.util.Map;

public class Hello {
    public static Map<String, String> handleRequest(Map<String, Object> event) {
        return Map.of("hello", "world");
    }
}
`},
		bareHello: func(ctx context.Context, dir string) ([]string, error) {
			java := interpreter("java")
			if err := compileHello(ctx, sibling(java, "javac"), dir, "Hello.java",
				"public class Hello { public static void main(String[] a) { System.out.println(\"hello\"); } }\n", "-d", dir); err != nil {
				return nil, err
			}
			return []string{java, "-cp", dir, "Hello"}, nil
		}},
	{runtime: "dotnet", handler: "Example.Hello::Handle",
		files: map[string]string{"Hello.cs": `using System.Collections.Generic;

namespace Example
{
    public static class Hello
    {
        public static Dictionary<string, string> Handle(object evt)
        {
            return new Dictionary<string, string> { { "hello", "world" } };
        }
    }
}
`},
		bareHello: func(ctx context.Context, dir string) ([]string, error) {
			mono := interpreter("mono")
			exe := filepath.Join(dir, "hello.exe")
			if err := compileHello(ctx, sibling(mono, "mcs"), dir, "hello.cs",
				"public static class Hello { public static void Main() { System.Console.WriteLine(\"hello\"); } }\n", "-out:"+exe); err != nil {
				return nil, err
			}
			return []string{mono, exe}, nil
		}},
}

// compileHello writes a hello program's source as name in dir and compiles it with compiler,
// args before the source.
func compileHello(ctx context.Context, compiler, dir, name, source string, args ...string) error {
	src := filepath.Join(dir, name)
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, compiler, append(args, src)...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", compiler, err, out)
	}
	return nil
}

// sibling is the tool beside the real file of interp (javac beside java), else tool on PATH.
func sibling(interp, tool string) string {
	if real, err := filepath.EvalSymlinks(interp); err == nil {
		if p := filepath.Join(filepath.Dir(real), tool); fileExists(p) {
			return p
		}
	}
	return interpreter(tool)
}

// sourceDir writes files into a new folder under dir, for a deploy with --source.
func sourceDir(dir, name string, files map[string]string) (string, error) {
	root := filepath.Join(dir, name)
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

// interpreter prefers Debian's interpreter, which is the one the worker resolves first, so the
// baseline starts the same binary as the functions run on.
func interpreter(name string) string {
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// coldResult holds one runtime's rows.
type coldResult struct {
	cold, warm, bare sample
}

// measureCold deploys c.coldN functions of each runtime and invokes each once (no instance of
// it exists yet: a cold start), pausing between them so the worker's pre-started processes are
// back and the machine is quiet; then the last one again (warm), and the bare interpreter start
// as many times, each after the same pause on a quiet machine.
func measureCold(ctx context.Context, c config, n *node, r *results) {
	client := newClient(1)
	defer client.CloseIdleConnections()
	auth := []string{"Authorization", "Bearer " + n.Token}
	r.cold = map[string]coldResult{}
	tmp, err := os.MkdirTemp("", "sluice-bench-cold-")
	if err != nil {
		r.note("cold: %v", err)
		return
	}
	defer os.RemoveAll(tmp)
runtimes:
	for _, rt := range coldRuntimes {
		var res coldResult
		bare := rt.bare
		if rt.bareHello != nil {
			dir := filepath.Join(tmp, "bare-"+rt.runtime)
			if err := os.Mkdir(dir, 0o755); err != nil {
				r.note("cold %s: %v", rt.runtime, err)
				continue
			}
			if bare, err = rt.bareHello(ctx, dir); err != nil {
				r.note("cold %s: no bare hello, the runtime is skipped: %v", rt.runtime, err)
				continue
			}
		}
		code := []string{"--inline", rt.code}
		if rt.files != nil {
			src, err := sourceDir(tmp, rt.runtime, rt.files)
			if err != nil {
				r.note("cold %s: %v", rt.runtime, err)
				continue
			}
			code = []string{"--source", src}
		}
		var names []string
		for i := range c.coldN {
			name := fmt.Sprintf("cold-%s-%d", rt.runtime, i)
			if _, err := n.sluice(ctx, append([]string{"deploy", name, "--runtime", rt.runtime, "--handler", rt.handler}, code...)...); err != nil {
				r.note("deploy %s: %v", name, err)
				continue runtimes
			}
			names = append(names, name)
		}
		for _, name := range names {
			sleepCtx(ctx, c.coldPause) // the pre-started process taken by the last one is replaced
			r.quiet(ctx, "cold "+rt.runtime)
			invoke := poster(client, n.URL+"/v1/functions/"+name+"/invocations", status200, auth...)
			res.cold.add(ctx, invoke)
		}
		last := poster(client, n.URL+"/v1/functions/"+names[len(names)-1]+"/invocations", status200, auth...)
		res.warm = load(ctx, c.coldN, 1, c.phaseCap, last)
		for range c.coldN { // each start as each cold invocation began: after the pause, on a quiet machine
			sleepCtx(ctx, c.coldPause)
			r.quiet(ctx, "bare "+rt.runtime)
			res.bare.add(ctx, func(ctx context.Context) error {
				return exec.CommandContext(ctx, bare[0], bare[1:]...).Run()
			})
		}
		if res.cold.errs+res.bare.errs > 0 {
			r.note("cold %s: %d invocations and %d bare starts failed, first: %v %v", rt.runtime, res.cold.errs, res.bare.errs, res.cold.firstErr, res.bare.firstErr)
		}
		r.cold[rt.runtime] = res
	}
}

// add times one call into the sample.
func (s *sample) add(ctx context.Context, do func(context.Context) error) {
	t0 := time.Now()
	err := do(ctx)
	d := time.Since(t0)
	s.elapsed += d
	if err != nil {
		s.errs++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	s.lat = append(s.lat, d)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
