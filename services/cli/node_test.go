package cli

import (
	"archive/zip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice.dev/services/clientconfig"
	"sluice.dev/services/node"
)

// fakeRoles records what up and serve were asked to run; Up reports the node ready at once.
type fakeRoles struct {
	up    node.UpOptions
	serve node.ServeOptions
	ready node.Endpoints
}

// newFakeRoles are roles whose node is ready at s's API with the test token.
func newFakeRoles(s *site) *fakeRoles {
	return &fakeRoles{ready: node.Endpoints{URL: s.srv.URL, Token: testToken}}
}

func (f *fakeRoles) Up(ctx context.Context, o node.UpOptions) error {
	f.up = o
	o.Ready(f.ready)
	return nil
}

func (f *fakeRoles) Serve(ctx context.Context, o node.ServeOptions) error {
	f.serve = o
	if o.Role == "bogus" {
		return errors.New("unknown role \"bogus\"")
	}
	return nil
}

func TestUp(t *testing.T) {
	s := newSite(t)
	delete(s.env, "SLUICE_URL")
	delete(s.env, "SLUICE_TOKEN")
	roles := &fakeRoles{ready: node.Endpoints{URL: s.srv.URL, Token: testToken, NATSURL: "nats://sluice:secret@127.0.0.1:4222"}}
	r := s.runIn(t.Context(), "", roles, "up", "--no-worker", "--listen", "127.0.0.1:9999")
	want := "SLUICE_URL=" + s.srv.URL + "\nSLUICE_TOKEN=" + testToken + "\nSLUICE_NATS_URL=nats://sluice:secret@127.0.0.1:4222\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("up: %s\nwant stdout:\n%s", r, want)
	}
	if line := "console: " + s.srv.URL + "/#token=" + testToken + "\n"; !strings.Contains(r.stderr, line) {
		t.Fatalf("up: stderr has no %q:\n%s", line, r.stderr)
	}
	if !roles.up.NoWorker || roles.up.Listen != "127.0.0.1:9999" || roles.up.DataDir != filepath.Join(s.home, ".local", "share", "sluice") {
		t.Fatalf("up options: %+v", roles.up)
	}
	p := filepath.Join(s.home, ".config", "sluice", "config")
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		t.Fatalf("config file: %q %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Dir(p)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode %v", fi.Mode())
	}
	// Without the variables, the CLI finds the node through the file.
	s.ok(t, "list")
	r = s.runIn(t.Context(), "", roles, "up", "--data", "/srv/sluice")
	if r.code != 0 || roles.up.DataDir != "/srv/sluice" || roles.up.Listen != node.DefaultListen || roles.up.NoWorker {
		t.Fatalf("up --data: %s %+v", r, roles.up)
	}
	s.env["XDG_DATA_HOME"] = "/xdg/data"
	if s.runIn(t.Context(), "", roles, "up"); roles.up.DataDir != "/xdg/data/sluice" {
		t.Fatalf("XDG data dir: %+v", roles.up)
	}
	_ = clientconfig.DefaultURL
}

func TestServe(t *testing.T) {
	s := newSite(t)
	roles := &fakeRoles{}
	r := s.runIn(t.Context(), "", roles, "serve", "worker", "--nats", "nats://u:p@h:4222", "--listen", ":0", "--token", "t")
	if r.code != 0 || roles.serve.Role != "worker" || roles.serve.NATSURL != "nats://u:p@h:4222" || roles.serve.Token != "t" || roles.serve.Listen != ":0" {
		t.Fatalf("serve: %s %+v", r, roles.serve)
	}
	s.env["SLUICE_NATS_URL"] = "nats://from-env:4222"
	if r := s.runIn(t.Context(), "", roles, "serve", "gateway"); r.code != 0 || roles.serve.NATSURL != "nats://from-env:4222" || roles.serve.Token != testToken {
		t.Fatalf("serve from env: %s %+v", r, roles.serve)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "bogus"); r.code != 1 || !strings.Contains(r.stderr, "unknown role") {
		t.Fatalf("serve bogus: %s", r)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--memory-budget", "512"); r.code != 0 || roles.serve.MemoryBudgetMB != 512 {
		t.Fatalf("serve --memory-budget: %s %+v", r, roles.serve)
	}
	if r := s.runIn(t.Context(), "", roles, "serve", "worker", "--memory-budget", "-1"); r.code != 2 || !strings.Contains(r.stderr, "memory-budget") {
		t.Fatalf("serve --memory-budget -1: %s", r)
	}
	delete(s.env, "SLUICE_NATS_URL")
	if r := s.runIn(t.Context(), "", roles, "serve", "worker"); r.code != 2 || !strings.Contains(r.stderr, "--nats") {
		t.Fatalf("serve without --nats: %s", r)
	}
}

func TestInlineFileName(t *testing.T) {
	for _, c := range [][3]string{
		{"python", "main.handler", "main.py"},
		{"nodejs", "index.handler", "index.js"},
		{"nodejs", "src/app.handler", "src/app.js"},
		{"python", "pkg.mod.handler", "pkg/mod.py"},
		{"php", "index.handle", "index.php"},
		{"java", "com.example.Hello::handle", "Hello.java"},
		{"dotnet", "Demo.Fn::Run", "Fn.cs"},
		{"go", "main", "main.go"},
		{"custom", "whatever", "bootstrap"},
	} {
		if got := InlineFileName(c[0], c[1]); got != c[2] {
			t.Errorf("InlineFileName(%s, %s) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}

// writeSlip writes a zip whose second entry climbs out of the destination.
func writeSlip(t *testing.T, w io.Writer) {
	t.Helper()
	zw := zip.NewWriter(w)
	for name, body := range map[string]string{"main.py": echoPy, "../../escaped.py": "print('out')\n"} {
		f, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
