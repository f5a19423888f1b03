package console_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"sluice.dev/services/console"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestPage(t *testing.T) {
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, h, http.MethodGet, "/")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("GET /: Content-Security-Policy %q", csp)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-cache" ||
		w.Header().Get("Cross-Origin-Opener-Policy") != "same-origin" || w.Header().Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("GET /: headers %v", w.Header())
	}
	page := w.Body.String()
	// Every file the page loads is served, with its type; nothing comes from another host.
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("page refers to %d files, want the script, the style sheet and the icon:\n%s", len(refs), page)
	}
	want := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, console.AssetPrefix) {
			t.Errorf("page loads %q, not one of its own files", ref)
			continue
		}
		w := get(t, h, http.MethodGet, ref)
		ext := ref[strings.LastIndexByte(ref, '.'):]
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), want[ext]) {
			t.Errorf("GET %s: %d %q, want 200 %s", ref, w.Code, w.Header().Get("Content-Type"), want[ext])
		}
	}
}

// TestModules checks that every module a script imports is served: a typo in an import path
// would leave the console blank.
func TestModules(t *testing.T) {
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	imp := regexp.MustCompile(`(?m)^import .* from '\./([^']+)';$`)
	scripts := 0
	for _, name := range h.Files() {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		scripts++
		body := get(t, h, http.MethodGet, console.AssetPrefix+name).Body.String()
		if rest := strings.ReplaceAll(body, "'http://www.w3.org/2000/svg'", ""); strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
			t.Errorf("%s names a URL: the console must work offline", name)
		}
		for _, m := range imp.FindAllStringSubmatch(body, -1) {
			if w := get(t, h, http.MethodGet, console.AssetPrefix+m[1]); w.Code != http.StatusOK {
				t.Errorf("%s imports ./%s: GET answers %d", name, m[1], w.Code)
			}
		}
	}
	if scripts < 5 {
		t.Fatalf("%d scripts embedded, want the app and its modules", scripts)
	}
}

func TestRevalidation(t *testing.T) {
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, h, http.MethodGet, console.AssetPrefix+"app.js")
	etag := w.Header().Get("ETag")
	if w.Code != http.StatusOK || etag == "" {
		t.Fatalf("GET app.js: %d, ETag %q", w.Code, etag)
	}
	if w := get(t, h, http.MethodGet, console.AssetPrefix+"app.js", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Fatalf("GET app.js with its ETag: %d, want 304", w.Code)
	}
	if w := get(t, h, http.MethodGet, console.AssetPrefix+"app.js", "If-None-Match", `"other"`); w.Code != http.StatusOK {
		t.Fatalf("GET app.js with another ETag: %d, want 200", w.Code)
	}
}

func TestRefusals(t *testing.T) {
	h, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, console.AssetPrefix + "missing.js", http.StatusNotFound},
		{http.MethodGet, console.AssetPrefix, http.StatusNotFound},
		{http.MethodGet, console.AssetPrefix + "../console.go", http.StatusNotFound},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodHead, "/", http.StatusOK},
	} {
		if w := get(t, h, c.method, c.path); w.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.code)
		}
	}
}
