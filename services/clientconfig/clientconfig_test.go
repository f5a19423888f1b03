package clientconfig

import (
	"os"
	"path/filepath"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadOrder(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	c, err := Load(envOf(env))
	if err != nil || c.URL != DefaultURL || c.Token != "" {
		t.Fatalf("no config: %+v %v", c, err)
	}
	p, err := Write(envOf(env), []Line{{EnvURL, "http://127.0.0.1:9999/"}, {EnvToken, "file-token"}, {EnvNATSURL, "nats://u:p@127.0.0.1:4222"}})
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(home, ".config", "sluice", "config") {
		t.Fatalf("path = %s", p)
	}
	for path, mode := range map[string]os.FileMode{p: 0o600, filepath.Dir(p): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want %v", path, fi.Mode(), err, mode)
		}
	}
	c, _ = Load(envOf(env))
	if c.URL != "http://127.0.0.1:9999" || c.Token != "file-token" {
		t.Fatalf("from file: %+v", c)
	}
	env[EnvToken] = "env-token"
	c, _ = Load(envOf(env))
	if c.URL != "http://127.0.0.1:9999" || c.Token != "env-token" {
		t.Fatalf("env over file: %+v", c)
	}
	env[EnvURL] = "ftp://x"
	if _, err := Load(envOf(env)); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
	xdg := t.TempDir()
	if p, _ := Path(envOf(map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg})); p != filepath.Join(xdg, "sluice", "config") {
		t.Fatalf("XDG path = %s", p)
	}
	if d, _ := DataDir(envOf(map[string]string{"HOME": home})); d != filepath.Join(home, ".local", "share", "sluice") {
		t.Fatalf("data dir = %s", d)
	}
	if _, err := DataDir(envOf(nil)); err == nil {
		t.Fatal("no HOME, no error")
	}
}

func TestParse(t *testing.T) {
	m, err := Parse([]byte("# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\n"))
	if err != nil || m["A"] != "1" || m["B"] != "two words" || m["C"] != "x=y" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := Parse([]byte("garbage\n")); err == nil {
		t.Fatal("garbage parsed")
	}
}
