package registry_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"sluice.dev/adapters/s3conf"
	"sluice.dev/events"
	"sluice.dev/events/testkit"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/archive"
	"sluice.dev/services/codeurl"
	"sluice.dev/services/registry"
)

func zipOf(t *testing.T, files map[string]string, execs map[string]bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if execs[name] {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEditFile(t *testing.T) {
	reg, _, _ := setup(t)
	ctx := context.Background()
	z := zipOf(t, map[string]string{
		"main.py":    "def handler(e, c):\n    return 1\n",
		"lib/x.py":   "X = 1\n",
		"run.sh":     "#!/bin/sh\n",
		"./data.txt": "d",
	}, map[string]bool{"run.sh": true})
	ref, err := reg.PutCode(ctx, z)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg()
	c.MemoryMB = 256
	if _, err := reg.Deploy(ctx, "ed", c, ref); err != nil {
		t.Fatal(err)
	}
	v, files, err := reg.Files(ctx, "ed", 0)
	if err != nil || v.Version != 1 {
		t.Fatalf("Files = %v, %v", v.Version, err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		if f.Path == "run.sh" && !f.Executable {
			t.Errorf("run.sh not executable: %+v", f)
		}
	}
	if strings.Join(paths, ",") != "data.txt,lib/x.py,main.py,run.sh" {
		t.Fatalf("files = %v", paths)
	}
	if _, b, err := reg.File(ctx, "ed", 0, "./lib/x.py"); err != nil || string(b) != "X = 1\n" {
		t.Fatalf("File = %q, %v", b, err)
	}

	v2, err := reg.EditFile(ctx, "ed", "main.py", []byte("def handler(e, c):\n    return 2\n"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Config.MemoryMB != 256 || v2.Origin != "edit of main.py on version 1" {
		t.Fatalf("edit made %+v", v2)
	}
	if _, b, _ := reg.File(ctx, "ed", 0, "main.py"); !strings.Contains(string(b), "return 2") {
		t.Fatalf("edited main.py = %q", b)
	}
	if _, b, _ := reg.File(ctx, "ed", 1, "main.py"); !strings.Contains(string(b), "return 1") {
		t.Fatalf("version 1 changed: %q", b)
	}
	// The other files and modes are kept; a new file is added.
	if _, err := reg.EditFile(ctx, "ed", "run.sh", []byte("echo hi\n"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.EditFile(ctx, "ed", "lib/new.py", []byte("Y = 2\n"), 0); err != nil {
		t.Fatal(err)
	}
	_, files, _ = reg.Files(ctx, "ed", 0)
	got := map[string]wire.FileInfo{}
	for _, f := range files {
		got[f.Path] = f
	}
	if len(got) != 5 || !got["run.sh"].Executable || got["run.sh"].Size != 8 || got["lib/new.py"].Size != 6 {
		t.Fatalf("files after edits = %+v", files)
	}
	zb, _ := reg.Code(ctx, mustVersion(t, reg, "ed", 4).Code.SHA256)
	if err := archive.Check(zb, archive.Limits{}); err != nil {
		t.Fatalf("edited package: %v", err)
	}

	for file, want := range map[string]string{"../x.py": "climbs out", "a/../../x": "climbs out", "/etc/passwd": "absolute", "lib": "is a folder", "lib/": "names a folder", "": "empty", "a\\b": "backslash", ".": "root"} {
		if _, err := reg.EditFile(ctx, "ed", file, []byte("x"), 0); !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("EditFile(%q) = %v, want ErrInvalid with %q", file, err, want)
		}
	}
	if _, err := reg.EditFile(ctx, "ed", "main.py", []byte("x"), 1); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("stale base: %v", err)
	}
	if _, err := reg.EditFile(ctx, "ed", "big.py", make([]byte, registry.MaxEditBytes+1), 0); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("oversize edit: %v", err)
	}
	if _, err := reg.EditFile(ctx, "nope", "main.py", []byte("x"), 0); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown function: %v", err)
	}
	if _, _, err := reg.File(ctx, "ed", 0, "missing.py"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := reg.File(ctx, "ed", 0, "../../x"); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("unsafe read: %v", err)
	}
	if vs, _ := reg.Versions(ctx, "ed"); len(vs) != 4 {
		t.Fatalf("refused edits made versions: %d", len(vs))
	}
}

func mustVersion(t *testing.T, reg *registry.Registry, name string, n int) events.Version {
	t.Helper()
	v, err := reg.Version(context.Background(), name, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFetchCode(t *testing.T) {
	reg, bus, ref := setup(t)
	ctx := context.Background()
	if _, err := reg.FetchCode(ctx, "s3://code/k.zip"); !errors.Is(err, registry.ErrNoObjectStorage) {
		t.Fatalf("without object storage: %v", err)
	}
	z, _ := archive.FromFile("main.py", []byte("def handler(e, c):\n    return e\n"))
	srv := testkit.StartMinIO(t)
	srv.Put(t, "code", "k.zip", z)
	srv.Put(t, "code", "bad.zip", []byte("nope"))
	store, err := codeurl.New(s3conf.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	withS3, err := registry.New(bus.JS, runtimes(t), archive.Limits{}, registry.WithFetcher(store))
	if err != nil {
		t.Fatal(err)
	}
	got, err := withS3.FetchCode(ctx, "s3://code/k.zip")
	if err != nil || got != ref {
		t.Fatalf("FetchCode = %+v, %v; want %+v", got, err, ref)
	}
	if _, err := withS3.FetchCode(ctx, "s3://code/bad.zip"); !errors.Is(err, archive.ErrNotZip) || !strings.Contains(err.Error(), "s3://code/bad.zip") {
		t.Fatalf("not a zip: %v", err)
	}
	if _, err := withS3.FetchCode(ctx, "s3://code/missing.zip"); err == nil || !strings.Contains(err.Error(), "no object s3://code/missing.zip") {
		t.Fatalf("missing: %v", err)
	}
	v, err := withS3.DeployFrom(ctx, "pulled", cfg(), got, "s3://code/k.zip")
	if err != nil || v.Origin != "s3://code/k.zip" {
		t.Fatalf("DeployFrom = %+v, %v", v, err)
	}
}
