package clientconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Variables the CLI reads.
const (
	EnvURL     = "SLUICE_URL"
	EnvToken   = "SLUICE_TOKEN"
	EnvNATSURL = "SLUICE_NATS_URL"
)

// DefaultURL is where a local `sluice up` listens.
const DefaultURL = "http://127.0.0.1:8080"

// ErrNoHome is returned when neither the XDG variable nor HOME is set.
var ErrNoHome = errors.New("neither XDG_CONFIG_HOME/XDG_DATA_HOME nor HOME is set")

// Config is where and how the CLI reaches a node.
type Config struct {
	URL   string
	Token string
}

// Path is the config file: $XDG_CONFIG_HOME/sluice/config, else $HOME/.config/sluice/config.
func Path(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "sluice", "config"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "sluice", "config"), nil
	}
	return "", ErrNoHome
}

// DataDir is the default node data folder: $XDG_DATA_HOME/sluice, else
// $HOME/.local/share/sluice.
func DataDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sluice"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "sluice"), nil
	}
	return "", ErrNoHome
}

// Load reads SLUICE_URL and SLUICE_TOKEN from the environment, filling the unset ones from the
// config file when there is one; the URL defaults to DefaultURL. A URL that is not http(s) fails.
func Load(getenv func(string) string) (Config, error) {
	c := Config{URL: getenv(EnvURL), Token: getenv(EnvToken)}
	if c.URL == "" || c.Token == "" {
		if p, err := Path(getenv); err == nil {
			file, err := Read(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return c, err
			}
			if c.URL == "" {
				c.URL = file[EnvURL]
			}
			if c.Token == "" {
				c.Token = file[EnvToken]
			}
		}
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%s=%q is not a URL like %s", EnvURL, c.URL, DefaultURL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c, nil
}

// Read parses an env-file: KEY=VALUE lines, blank lines and # comments skipped, an optional
// "export " prefix, values optionally in matching single or double quotes.
func Read(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(b)
}

// Parse reads env-file lines; see Read.
func Parse(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("config line %d: want KEY=VALUE, got %q", n, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, sc.Err()
}

// Line is one KEY=VALUE line.
type Line struct{ Key, Value string }

// Format renders lines in env-file form.
func Format(lines []Line) string {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.Key + "=" + l.Value + "\n")
	}
	return sb.String()
}

// Write replaces the config file with lines, creating its folder (0700); the file is 0600 since
// it holds the token. The write is atomic.
func Write(getenv func(string) string, lines []Line) (string, error) {
	p, err := Path(getenv)
	if err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*")
	if err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.WriteString(Format(lines)); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return p, nil
}
