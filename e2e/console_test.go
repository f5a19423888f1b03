package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"sluice.dev/events"
)

// Settings of the browser test.
const (
	requireChromiumEnv = "SLUICE_REQUIRE_CHROMIUM" // "1" (CI): no browser fails the test instead of skipping it
	screenshotsEnv     = "SLUICE_SCREENSHOTS"      // a folder to keep the screenshots in; default a temporary one
	pageDeadline       = 60 * time.Second          // one page until it shows what the test waits for
)

// greetPy prints a line per invocation (the log tail shows it) and greets; the test's edit
// changes the greeting.
const greetPy = `def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    if name == "nobody":
        raise ValueError("no one to greet")
    print("greeting", name)
    return {"greeting": "hello " + name}
`

// chromium finds the browser, or skips the test (fails it with SLUICE_REQUIRE_CHROMIUM=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(requireChromiumEnv) == "1" {
		t.Fatalf("no chromium on PATH and %s=1: install it with apt-get install chromium", requireChromiumEnv)
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to test the console in a browser")
	return ""
}

// browser is one headless Chromium tab. It records what the page writes to its console that an
// operator would see as a fault.
type browser struct {
	ctx   context.Context
	shots string

	mu     sync.Mutex
	faults []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx, shots: shots}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.record(m)
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// record keeps the messages that are faults: exceptions, console.error and console.warn calls,
// and browser log errors (a script, style or icon that failed to load, a refused content
// policy). Failed API calls are the console's to handle and show, not faults.
func (b *browser) record(m chromedp.ConsoleMessage) {
	switch {
	case m.IsException(), m.Type == chromedp.ConsoleError && m.Source != "network", m.Type == chromedp.ConsoleWarning && m.Source == "":
	case m.Type == chromedp.ConsoleError && m.Source == "network":
		if u, err := url.Parse(m.URL); err == nil && strings.HasPrefix(u.Path, "/v1/") {
			return
		}
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = append(b.faults, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
}

// noFaults fails the test with what the page reported since the last check.
func (b *browser) noFaults(t *testing.T, page string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.faults) > 0 {
		t.Errorf("%s: the page reported:\n  %s", page, strings.Join(b.faults, "\n  "))
		b.faults = nil
	}
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageDeadline)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageDeadline)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until polls a JavaScript expression until it returns true.
func (b *browser) until(t *testing.T, what, expr string) {
	t.Helper()
	testkit.EventuallyEvery(t, pageDeadline, 100*time.Millisecond, func() error {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		if !ok {
			return fmt.Errorf("%s: %s is still false", what, expr)
		}
		return nil
	})
}

// screenshot saves the whole page as NAME.png.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageDeadline)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// lineWith is the rest of the last output line that starts with prefix.
func (o *output) lineWith(prefix string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(o.lines[i], prefix); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// TestConsole opens the web console of a node in headless Chromium and uses it as an operator
// would: sign in, find the function, read its charts, edit its code into a new version, invoke
// it and read its logs, and read the bill. No page may report an error.
func TestConsole(t *testing.T) {
	b := newBrowser(t)
	n := newSite(t).start(t)
	deployInline(t, n, "greet", greetPy, "--on-failure", "nats:greet.failures")
	const invocations = 6
	for i := range invocations {
		r := n.request(t, "POST", "/v1/functions/greet/invocations", fmt.Appendf(nil, `{"name":"caller %d"}`, i), false)
		if r.status != 200 || r.header.Get("X-Sluice-Outcome") != "ok" {
			t.Fatalf("invoke greet: %d %s %s", r.status, r.header, r.body)
		}
	}

	// One failure, for the error charts.
	if r := n.request(t, "POST", "/v1/functions/greet/invocations", []byte(`{"name":"nobody"}`), false); r.header.Get("X-Sluice-Outcome") != "error" {
		t.Fatalf("invoke greet for nobody: %d %s %s, want outcome error", r.status, r.header, r.body)
	}

	// The line sluice up printed opens the console signed in, and the token leaves the address bar.
	line, ok := n.out.lineWith("console: ")
	if !ok || !strings.HasPrefix(line, n.URL+"/#token=") {
		t.Fatalf("sluice up printed no console line with the token (got %q)\n%s", line, n.out.tail(20))
	}

	// Without a token the console asks for one, refuses a wrong one, and takes the right one.
	b.do(t, "open the console", chromedp.Navigate(n.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do(t, "sign in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"), chromedp.Click(chromedp.CSS(".signin button[type=submit]")))
	b.until(t, "wrong token refused", `!!document.querySelector('.signin .notice.error') && document.querySelector('#token').value === ''`)
	b.do(t, "sign in", chromedp.SendKeys(chromedp.CSS("#token"), n.Token), chromedp.Click(chromedp.CSS(".signin button[type=submit]")))
	b.until(t, "function list after sign-in", `!!document.querySelector('tr[data-function="greet"]')`)
	b.noFaults(t, "sign-in")

	b.do(t, "open the printed console line", chromedp.Navigate("about:blank"), chromedp.Navigate(line))
	b.until(t, "function list", `!!document.querySelector('tr[data-function="greet"] a.fn-link')`)
	if got := eval[string](t, b, `location.hash`); got != "#/" {
		t.Errorf("address bar fragment after opening the console line: %q, want #/ (the token taken out)", got)
	}
	if got := eval[string](t, b, `sessionStorage.getItem('sluice.token')`); got != n.Token {
		t.Errorf("sessionStorage token %q, want the node's", got)
	}
	row := eval[string](t, b, `document.querySelector('tr[data-function="greet"]').innerText`)
	for _, want := range []string{"greet", "python", "v1", "14%"} { // one failure in seven
		if !strings.Contains(row, want) {
			t.Errorf("function row %q lacks %q", row, want)
		}
	}
	b.screenshot(t, "functions")
	b.noFaults(t, "function list")

	// Monitoring: the charts draw the invocations as points; the lag chart, which the metrics have
	// no series for, draws what the page samples.
	b.do(t, "open the function", chromedp.Navigate(n.URL+"/#/functions/greet"))
	chartPoints := func(title string) string {
		return `Number(document.querySelector('figure.chart[data-title="` + title + `"]')?.dataset.points || 0)`
	}
	b.until(t, "the async settings in the header", `[...document.querySelectorAll('.fact')].some(e => e.textContent.includes('retries 2 · max age 6h0m0s · on failure → nats:greet.failures'))`)
	b.until(t, "lag chart with the page's own samples", chartPoints("Lag")+` > 1`)
	b.until(t, "invocations chart with points", chartPoints("Invocations")+` > 0 && document.querySelectorAll('figure.chart[data-title="Invocations"] circle.pt').length > 0`)
	for _, title := range []string{"Duration", "Cold starts", "Errors"} {
		b.until(t, title+" chart with points", chartPoints(title)+` > 0`)
	}
	tile := func(label string) string {
		return `Number([...document.querySelectorAll('.tile')].find(e => e.querySelector('.tile-label').textContent === '` + label + `')?.querySelector('.tile-value').textContent.replace(/\D/g, ''))`
	}
	b.until(t, "invocations tile", tile("Invocations")+` === `+strconv.Itoa(invocations+1))
	b.until(t, "errors tile", tile("Errors")+` === 1`)
	b.until(t, "errors chart with a point above zero", `document.querySelectorAll('figure.chart[data-title="Errors"] circle.pt').length > 0`)
	b.screenshot(t, "monitoring")
	b.do(t, "dark theme", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	b.screenshot(t, "monitoring-dark")
	b.do(t, "light theme", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		return err
	}))
	b.noFaults(t, "monitoring")

	// Code: an edit in the editor saved from the page makes version 2 with the new content.
	b.do(t, "open the code", chromedp.Navigate(n.URL+"/#/functions/greet/code"))
	b.until(t, "editor with main.py", `document.querySelector('#editor')?.value.includes('def handler')`)
	b.do(t, "edit", chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector('#editor');
		e.value = e.value.replace('"hello " + name', '"edited hello " + name');
		e.dispatchEvent(new Event('input'));
	})()`), chromedp.Click(chromedp.CSS("#save")))
	b.until(t, "saved", `document.querySelector('#editor-status')?.textContent.includes('as version 2')`)
	var detail struct {
		Function events.Function `json:"function"`
	}
	if r := n.request(t, "GET", "/v1/functions/greet", nil, false); r.status != 200 || json.Unmarshal(r.body, &detail) != nil || detail.Function.Latest != 2 {
		t.Fatalf("after the edit: %d %s, want latest version 2", r.status, r.body)
	}
	var file struct {
		Version int    `json:"version"`
		Content string `json:"content"`
	}
	if r := n.request(t, "GET", "/v1/functions/greet/code?file=main.py", nil, false); r.status != 200 || json.Unmarshal(r.body, &file) != nil ||
		file.Version != 2 || !strings.Contains(file.Content, `"edited hello " + name`) {
		t.Fatalf("main.py of the latest version: %d %s", r.status, r.body)
	}
	b.screenshot(t, "code")
	// The versions list links each version's code; an older one is shown as it was, read-only.
	b.do(t, "open versions", chromedp.Navigate(n.URL+"/#/functions/greet/versions"))
	b.until(t, "versions listed", `document.querySelectorAll('table.versions tr[data-version]').length === 2`)
	b.do(t, "view version 1", chromedp.Click(chromedp.CSS(`tr[data-version="1"] a`)))
	b.until(t, "version 1 read-only", `(e => e && e.readOnly && e.value.includes('{"greeting": "hello " + name}'))(document.querySelector('#editor'))`)
	b.noFaults(t, "code")

	// A package of several files: the picker lists them, and an edit of the one picked is saved.
	dir := t.TempDir()
	for name, content := range map[string]string{
		"main.py":   "import words\n\n\ndef handler(event, context):\n    return {\"word\": words.WORD}\n",
		"words.py":  "WORD = \"first\"\n",
		"README.md": "two modules\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.ok(t, "deploy", "words", "--runtime", "python", "--handler", "main.handler", "--source", dir)
	b.do(t, "open the code of a package", chromedp.Navigate(n.URL+"/#/functions/words/code"))
	b.until(t, "the handler's file open", `document.querySelector('#editor')?.value.includes('import words') && document.querySelectorAll('#files .file').length === 3`)
	b.do(t, "pick words.py", chromedp.Click(chromedp.CSS(`#files .file[data-file="words.py"]`)))
	b.until(t, "words.py open", `document.querySelector('#editor').value === 'WORD = "first"\n'`)
	b.do(t, "edit words.py", chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector('#editor');
		e.value = 'WORD = "second"\n';
		e.dispatchEvent(new Event('input'));
	})()`), chromedp.Click(chromedp.CSS("#save")))
	b.until(t, "words.py saved", `document.querySelector('#editor-status')?.textContent.includes('Saved words.py as version 2')`)
	if r := n.request(t, "POST", "/v1/functions/words/invocations", []byte(`{}`), false); r.status != 200 || r.header.Get("X-Sluice-Version") != "2" || !strings.Contains(string(r.body), "second") {
		t.Fatalf("invoke words after the edit: %d %s %s, want version 2 with the second word", r.status, r.header, r.body)
	}
	b.noFaults(t, "code of a package")

	// Invoke: the answer comes from version 2, and the log tail shows the line the call printed.
	b.do(t, "open invoke", chromedp.Navigate(n.URL+"/#/functions/greet/invoke"), chromedp.WaitVisible(chromedp.CSS("#payload")))
	b.do(t, "invoke", chromedp.SetValue(chromedp.CSS("#payload"), `{"name": "Ada"}`), chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, "answer", `document.querySelector('#outcome')?.textContent === 'ok'`)
	if got := eval[string](t, b, `document.querySelector('#ran-version').textContent`); got != "2" {
		t.Errorf("version that ran: %q, want 2", got)
	}
	if got := eval[string](t, b, `document.querySelector('#result pre').textContent`); !strings.Contains(got, "edited hello Ada") {
		t.Errorf("answer %q, want the edited greeting", got)
	}
	b.until(t, "log line of the call", `[...document.querySelectorAll('#logs .log')].some(l => l.textContent.includes('greeting Ada'))`)
	// Queued: the page follows the invocation by its id to its answer.
	b.do(t, "invoke async", chromedp.SetValue(chromedp.CSS("#payload"), `{"name": "Bea"}`), chromedp.Click(chromedp.CSS("#async")), chromedp.Click(chromedp.CSS("#invoke")))
	b.until(t, "async answer", `document.querySelector('#outcome')?.textContent === 'ok' && document.querySelector('#result pre')?.textContent.includes('edited hello Bea')`)
	if got := eval[string](t, b, `document.querySelector('#ran-version').textContent`); got != "2" {
		t.Errorf("version that ran the queued call: %q, want 2", got)
	}
	b.screenshot(t, "invoke")
	b.noFaults(t, "invoke")

	// Dead letters: an async event that failed its only attempt is listed with its error, and the
	// page's redrive sends it back (it fails again, and comes back marked as redriven).
	deployInline(t, n, "sink", greetPy, "--retries", "0")
	n.ok(t, "invoke", "sink", "--async", "--data", `{"name":"nobody"}`)
	testkit.EventuallyEvery(t, asyncDeadline, 200*time.Millisecond, func() error {
		if got := deadLetters(t, n, "sink"); len(got) != 1 {
			return fmt.Errorf("dead letters of sink: %d, want 1", len(got))
		}
		return nil
	})
	b.do(t, "open dead letters", chromedp.Navigate(n.URL+"/#/functions/sink/dlq"))
	b.until(t, "dead letter row with its error", `document.querySelector('table.dlq tr[data-event]')?.textContent.includes('no one to greet')`)
	b.screenshot(t, "dlq")
	b.do(t, "redrive", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.CSS("#redrive")))
	b.until(t, "redriven", `document.querySelector('#dlq-status')?.textContent.includes('Redriven 1 event')`)
	testkit.EventuallyEvery(t, asyncDeadline, 200*time.Millisecond, func() error {
		got := deadLetters(t, n, "sink")
		if len(got) != 1 || got[0].Redriven != 1 {
			return fmt.Errorf("dead letters of sink after the redrive: %+v, want the event back, redriven once", got)
		}
		return nil
	})
	// Its whole record shows the data it carried; purge empties the list.
	b.do(t, "reload dead letters", chromedp.Reload())
	b.until(t, "redriven dead letter listed", `document.querySelector('table.dlq tr[data-event]')?.textContent.includes('redriven 1')`)
	b.do(t, "details", chromedp.Click(chromedp.CSS(`table.dlq tr[data-event] button.ghost`)))
	b.until(t, "whole record", `document.querySelector('table.dlq .detail-row pre')?.textContent.includes('"nobody"')`)
	b.do(t, "purge", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.CSS("#purge")))
	b.until(t, "purged", `document.querySelector('#dlq-status')?.textContent.includes('Purged 1 event') && !document.querySelector('table.dlq')`)
	if got := deadLetters(t, n, "sink"); len(got) != 0 {
		t.Errorf("dead letters of sink after the purge: %+v, want none", got)
	}
	b.noFaults(t, "dead letters")

	// Triggers: the form subscribes the function to CloudEvents, the table lists it with its state
	// (a filter that looks like markup stays text), and delete removes it.
	b.do(t, "open triggers", chromedp.Navigate(n.URL+"/#/functions/sink/triggers"))
	b.until(t, "no triggers yet", `document.querySelector('#tab-triggers .empty-state') !== null`)
	b.do(t, "subscribe",
		chromedp.SetValue(chromedp.CSS("#ce-type"), "com.shop.order.paid"),
		chromedp.SetValue(chromedp.CSS("#ce-source-way"), "Prefix"),
		chromedp.SetValue(chromedp.CSS("#ce-source"), "/shop/"),
		chromedp.SetValue(chromedp.CSS("#ce-subject-way"), "Prefix"),
		chromedp.SetValue(chromedp.CSS("#ce-subject"), `<img src=x onerror="window.pwned=1">`),
		chromedp.Click(chromedp.CSS("#subscribe")))
	b.until(t, "subscription listed and running", `[...document.querySelectorAll('table.triggers tr[data-trigger]')].some(r =>
		r.textContent.includes('type=com.shop.order.paid source^=/shop/ subject^=<img') && r.textContent.includes('running'))`)
	if eval[bool](t, b, `window.pwned === 1 || document.querySelector('table.triggers img') !== null`) {
		t.Fatal("a trigger's filter ran as markup")
	}
	var subs struct {
		Triggers []struct {
			Trigger struct {
				ID          string            `json:"id"`
				CloudEvents map[string]string `json:"cloudevents"`
			} `json:"trigger"`
		} `json:"triggers"`
	}
	if r := n.request(t, "GET", "/v1/triggers?function=sink", nil, false); r.status != 200 || json.Unmarshal(r.body, &subs) != nil || len(subs.Triggers) != 1 ||
		subs.Triggers[0].Trigger.CloudEvents["type"] != "com.shop.order.paid" || subs.Triggers[0].Trigger.CloudEvents["sourcePrefix"] != "/shop/" {
		t.Fatalf("GET /v1/triggers: %d %s", r.status, r.body)
	}
	b.screenshot(t, "triggers")
	b.do(t, "delete the subscription", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`table.triggers tr[data-trigger] button.danger`)))
	b.until(t, "deleted", `document.querySelector('#triggers-status')?.textContent.includes('Deleted trigger') && !document.querySelector('table.triggers')`)
	b.noFaults(t, "triggers")

	// Billing: the function has a row.
	b.do(t, "open billing", chromedp.Navigate(n.URL+"/#/billing"))
	b.until(t, "billing row", `!!document.querySelector('table.billing tr[data-function="greet"]')`)
	var bill struct {
		Functions []struct {
			Function string `json:"function"`
			Requests int    `json:"requests"`
		} `json:"functions"`
	}
	if r := n.request(t, "GET", "/v1/billing?since=24h", nil, false); r.status != 200 || json.Unmarshal(r.body, &bill) != nil {
		t.Fatalf("GET /v1/billing: %d %s", r.status, r.body)
	}
	for _, f := range bill.Functions {
		if f.Function != "greet" {
			continue
		}
		cells := eval[[]string](t, b, `[...document.querySelectorAll('table.billing tr[data-function="greet"] td')].map(td => td.textContent)`)
		if len(cells) < 2 || cells[1] != strconv.Itoa(f.Requests) {
			t.Errorf("billing row of greet %q, want %d requests as the API bills", cells, f.Requests)
		}
	}
	b.screenshot(t, "billing")
	b.noFaults(t, "billing")
}

// deadLetter is what the test reads of a dead-lettered event.
type deadLetter struct {
	ID       string `json:"id"`
	Redriven int    `json:"redriven"`
}

// deadLetters lists a function's dead-lettered events through the API.
func deadLetters(t *testing.T, n *node, name string) []deadLetter {
	t.Helper()
	r := n.request(t, "GET", "/v1/functions/"+name+"/dlq", nil, false)
	var list struct {
		Events []deadLetter `json:"events"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("GET dead letters of %s: %d %s", name, r.status, r.body)
	}
	return list.Events
}
