package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// hostilePy answers its function URL with a page that tries to take over the origin it shares
// with the console: it reads the tab's storage (where the console keeps the API token), registers
// a service worker over the whole origin (the same function serves /sw.js and allows the scope /),
// calls the API with whatever token it found, and sets cookies for every path. It writes what it
// got into the page for the test to read.
const hostilePy = `PAGE = r'''<!doctype html>
<html><head><meta charset="utf-8"><title>hostile</title></head>
<body><h1>hostile page</h1><pre id="report">running</pre>
<script>
(async () => {
  const report = {ran: true, storage: {}, storageErrors: [], cookie: '', cookieError: '',
    serviceWorker: '', serviceWorkerError: '', api: 0, apiError: ''};
  let token = '';
  for (const name of ['sessionStorage', 'localStorage']) {
    try {
      const s = window[name];
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        report.storage[name + ':' + k] = s.getItem(k);
        if (k.includes('token')) token = s.getItem(k);
      }
    } catch (e) { report.storageErrors.push(name + ': ' + e.name); }
  }
  try { report.cookie = document.cookie; } catch (e) { report.cookieError = e.name; }
  try {
    const reg = await navigator.serviceWorker.register('/fn/hostile/sw.js', {scope: '/'});
    report.serviceWorker = reg.scope;
  } catch (e) { report.serviceWorkerError = e.name + ': ' + e.message; }
  try {
    const r = await fetch('/v1/functions', {headers: token ? {Authorization: 'Bearer ' + token} : {}});
    report.api = r.status;
  } catch (e) { report.apiError = e.name + ': ' + e.message; }
  document.getElementById('report').textContent = JSON.stringify(report);
  document.title = 'reported';
})();
</script></body></html>'''

WORKER = "self.addEventListener('fetch', (e) => {});"


def handler(event, context):
    if event.get("rawPath") == "/sw.js":
        return {"statusCode": 200, "headers": {"Content-Type": "text/javascript", "Service-Worker-Allowed": "/"}, "body": WORKER}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/html; charset=utf-8", "Service-Worker-Allowed": "/", "Set-Cookie": "stolen=1; Path=/"},
        "cookies": ["crumb=1; Path=/"],
        "body": PAGE,
    }
`

// hostileReport is what the hostile page writes into its <pre>.
type hostileReport struct {
	Ran                bool              `json:"ran"`
	Storage            map[string]string `json:"storage"`
	StorageErrors      []string          `json:"storageErrors"`
	Cookie             string            `json:"cookie"`
	CookieError        string            `json:"cookieError"`
	ServiceWorker      string            `json:"serviceWorker"`
	ServiceWorkerError string            `json:"serviceWorkerError"`
	API                int               `json:"api"`
	APIError           string            `json:"apiError"`
}

// TestConsoleIsolatesFunctionPages opens a hostile function's URL in the tab where the console is
// signed in (same origin): the page runs its script, but reads no token, registers no service
// worker, reaches no API and leaves no cookie.
func TestConsoleIsolatesFunctionPages(t *testing.T) {
	b := newBrowser(t)
	n := newSite(t).start(t)
	deployInline(t, n, "hostile", hostilePy, "--public")

	line, ok := n.out.lineWith("console: ")
	if !ok {
		t.Fatalf("sluice up printed no console line\n%s", n.out.tail(20))
	}
	b.do(t, "open the console signed in", chromedp.Navigate(line))
	b.until(t, "function list", `!!document.querySelector('tr[data-function="hostile"]')`)
	if got := eval[string](t, b, `sessionStorage.getItem('sluice.token')`); got != n.Token {
		t.Fatalf("console's sessionStorage token %q, want the node's", got)
	}
	b.noFaults(t, "console")

	b.do(t, "open the function URL in the console's tab", chromedp.Navigate(n.URL+"/fn/hostile/"))
	b.until(t, "the function's page ran its script", `document.title === 'reported'`)
	b.screenshot(t, "hostile-function-page")
	raw := eval[string](t, b, `document.querySelector('#report').textContent`)
	var rep hostileReport
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatalf("the page's report %q: %v", raw, err)
	}
	t.Logf("the function's page reported: %s", raw)
	if h := eval[string](t, b, `document.querySelector('h1')?.textContent || ''`); !rep.Ran || h != "hostile page" {
		t.Errorf("the function's page did not render and run: heading %q, report %+v", h, rep)
	}
	for k, v := range rep.Storage {
		t.Errorf("the function's page read storage %s = %q", k, v)
	}
	if strings.Contains(raw, n.Token) {
		t.Errorf("the function's page got the API token: %s", raw)
	}
	if rep.ServiceWorker != "" || rep.ServiceWorkerError == "" {
		t.Errorf("the function's page registered a service worker with scope %q", rep.ServiceWorker)
	}
	if rep.API == http.StatusOK {
		t.Errorf("the function's page called the API: %d", rep.API)
	}
	if rep.Cookie != "" {
		t.Errorf("the function's page reads cookies %q", rep.Cookie)
	}
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{n.URL + "/", n.URL + "/fn/hostile/", n.URL + "/v1/functions"}})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	for _, c := range cookies.Cookies {
		t.Errorf("the function set a cookie on the console's origin: %s=%s (path %s)", c.Name, c.Value, c.Path)
	}

	// Back in the console: no service worker on the origin, and the console still signed in.
	b.do(t, "back to the console", chromedp.Navigate(n.URL+"/"))
	b.until(t, "function list again", `!!document.querySelector('tr[data-function="hostile"]')`)
	ctx, cancel := context.WithTimeout(b.ctx, pageDeadline)
	defer cancel()
	scopes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`navigator.serviceWorker.getRegistrations().then(rs => rs.map(r => r.scope))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("list service workers: %v", err)
	}
	if len(scopes) > 0 {
		t.Errorf("service workers registered on the console's origin: %v", scopes)
	}
	if got := eval[string](t, b, `sessionStorage.getItem('sluice.token') || ''`); got != n.Token {
		t.Errorf("console's sessionStorage token after the visit %q, want the node's", got)
	}

	// Neither the API nor the console answers CORS to the opaque origin of a sandboxed page.
	for _, path := range []string{"/v1/functions", "/"} {
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			r := n.request(t, method, path, nil, method == http.MethodOptions, "Origin", "null", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
			if got := r.header.Values("Access-Control-Allow-Origin"); len(got) > 0 || slices.Contains(r.header.Values("Access-Control-Allow-Credentials"), "true") {
				t.Errorf("%s %s from origin null: %d with Access-Control-Allow-Origin %q", method, path, r.status, got)
			}
		}
	}
}
