package compose

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/conf"
)

// No container engine runs where these tests run, so the deployment is checked as files: the
// Compose specification's loader (what `docker compose config` runs) and nats-server's own
// configuration parser.

var (
	natsNodes = []string{"nats-1", "nats-2", "nats-3"}
	roles     = map[string]string{
		"gateway-1": "gateway", "gateway-2": "gateway", "scaler": "scaler", "adapters": "adapters",
		"worker-1": "worker", "worker-2": "worker", "worker-3": "worker",
	}
)

func loadProject(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"}, cli.WithWorkingDirectory("."), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeHasEveryPart(t *testing.T) {
	p := loadProject(t)
	want := append(append([]string{"minio"}, natsNodes...), slices.Collect(maps.Keys(roles))...)
	slices.Sort(want)
	got := p.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	builtFrom(t, p.Services["minio"], "minio")
	for _, n := range natsNodes {
		s := p.Services[n]
		builtFrom(t, s, "nats-server")
		if env := s.Environment["SERVER_NAME"]; env == nil || *env != n {
			t.Errorf("%s: SERVER_NAME %v, want its own name", n, env)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/data" && v.Source == n }) {
			t.Errorf("%s: no volume of its own for the JetStream store: %+v", n, s.Volumes)
		}
	}
}

func TestRolesReachTheWholeClusterWithThreeReplicas(t *testing.T) {
	p := loadProject(t, "NATS_PASSWORD=pw-from-env", "SLUICE_TOKEN=token-from-env")
	for name, role := range roles {
		s := p.Services[name]
		builtFrom(t, s, "sluice")
		cmd := []string(s.Command)
		if len(cmd) == 0 || cmd[0] != role {
			t.Errorf("%s: command %v, want role %s first", name, cmd, role)
		}
		if i := slices.Index(cmd, "--replicas"); i < 0 || i+1 >= len(cmd) || cmd[i+1] != "3" {
			t.Errorf("%s: command %v lacks --replicas 3", name, cmd)
		}
		url := s.Environment["SLUICE_NATS_URL"]
		if url == nil {
			t.Fatalf("%s: no SLUICE_NATS_URL", name)
		}
		for _, n := range natsNodes {
			if !strings.Contains(*url, "sluice:pw-from-env@"+n+":4222") {
				t.Errorf("%s: SLUICE_NATS_URL %s does not reach %s with the password", name, *url, n)
			}
		}
		if tok := s.Environment["SLUICE_TOKEN"]; tok == nil || *tok != "token-from-env" {
			t.Errorf("%s: SLUICE_TOKEN %v", name, tok)
		}
		for _, n := range natsNodes {
			if _, ok := s.DependsOn[n]; !ok {
				t.Errorf("%s: does not depend on %s", name, n)
			}
		}
	}
	for _, name := range []string{"gateway-1", "gateway-2"} {
		ports := p.Services[name].Ports
		if len(ports) != 1 || ports[0].HostIP != "127.0.0.1" || ports[0].Target != 8080 {
			t.Errorf("%s: ports %+v, want the gateway on loopback only", name, ports)
		}
	}
}

func TestNATSNodesRouteToEachOther(t *testing.T) {
	t.Setenv("NATS_USER", "sluice")
	t.Setenv("NATS_PASSWORD", "pw")
	t.Setenv("SERVER_NAME", "nats-1")
	c, err := conf.ParseFile("nats/nats.conf")
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if c["server_name"] != "nats-1" {
		t.Errorf("server_name %v: not taken from SERVER_NAME", c["server_name"])
	}
	if mp, _ := c["max_payload"].(int64); mp < 6<<20+64<<10 {
		t.Errorf("max_payload %v: below sluice's 6 MiB payloads", c["max_payload"])
	}
	js, _ := c["jetstream"].(map[string]any)
	if js == nil || js["store_dir"] != "/data" {
		t.Errorf("jetstream %v: want the store on the /data volume", c["jetstream"])
	}
	// Logs (1 GiB) and meters (10 GiB) reserve their byte limits on every replica.
	if fs, _ := js["max_file_store"].(int64); fs < 12<<30 {
		t.Errorf("max_file_store %v: too small for the streams' reservations", js["max_file_store"])
	}
	cluster, _ := c["cluster"].(map[string]any)
	if cluster == nil || cluster["name"] != "sluice" {
		t.Fatalf("cluster %v", c["cluster"])
	}
	routes, _ := cluster["routes"].([]any)
	for _, n := range natsNodes {
		if !slices.Contains(routes, any("nats-route://"+n+":6222")) {
			t.Errorf("routes %v: none to %s", routes, n)
		}
	}
}

func TestImageCarriesTheRuntimes(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"python3", "nodejs", "php-cli", "default-jdk-headless", "mono-mcs", "bubblewrap", "slirp4netns",
		"/usr/local/go", "./services/cmd/sluice", `ENTRYPOINT ["sluice", "serve"]`,
		"AS nats-server", "AS minio", "AS sluice", "NATS_SERVER_VERSION=" + pinned(t, "services/go.mod", "github.com/nats-io/nats-server/v2 "),
		"MINIO_VERSION=" + pinned(t, "task/install.go", "const minioVersion = ")} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// repoRoot is the repository's root folder, the image's build context.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// builtFrom requires a service's image to be built from the repository by a stage of
// compose/Dockerfile.
func builtFrom(t *testing.T, s types.ServiceConfig, target string) {
	t.Helper()
	if s.Build == nil || s.Build.Dockerfile != "compose/Dockerfile" || filepath.Clean(s.Build.Context) != repoRoot(t) || s.Build.Target != target {
		t.Errorf("%s: not built from the repository by compose/Dockerfile's %s stage: %+v", s.Name, target, s.Build)
	}
}

// pinned is the version a file of the repository pins for the tests: the rest of its line that
// starts with prefix, unquoted (services/go.mod's require of nats-server, the task runner's
// MinIO constant).
func pinned(t *testing.T, file, prefix string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), file))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return strings.Trim(strings.Fields(v)[0], `"`)
		}
	}
	t.Fatalf("%s pins no version on a line starting %q", file, prefix)
	return ""
}
