package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice.dev/events/testkit"
	"sluice.dev/services/api/wire"
)

// issueKey makes an access key through the CLI, as the node's admin.
func issueKey(t *testing.T, n *node, args ...string) wire.IssuedKey {
	t.Helper()
	var k wire.IssuedKey
	r := n.ok(t, append([]string{"keys", "create", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.AccessKeyID == "" || k.SecretAccessKey == "" || k.Token != k.AccessKeyID+"."+k.SecretAccessKey {
		t.Fatalf("keys create: %v\n%s", err, r)
	}
	return k
}

// refused checks that a CLI command run with a key fails, saying so.
func refused(t *testing.T, r result, want string) {
	t.Helper()
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("want a refusal saying %q, got %s", want, r)
	}
}

// TestAccessKeysHoldTheirScope issues an invoke key and a deploy key limited to orders-*, and
// tries every door with them: the CLI (the API), function URLs, /metrics, the key routes and,
// with AWS's CLI, the Lambda API; then revokes one.
func TestAccessKeysHoldTheirScope(t *testing.T) {
	n := newSite(t).start(t)
	deployInline(t, n, "orders-api", "def handler(e, c):\n    return 'orders'\n")
	deployInline(t, n, "billing", "def handler(e, c):\n    return 'billing'\n")
	invoke := issueKey(t, n, "--scope", "invoke", "--functions", "orders-*")
	deploy := issueKey(t, n, "--scope", "deploy", "--functions", "orders-*")
	if r := n.sluice(t, "keys", "create", "--scope", "root"); r.code == 0 || !strings.Contains(r.stderr, "scope") {
		t.Fatalf("a key of an unknown scope: %s", r)
	}

	// The invoke key invokes its functions and nothing else.
	if got := n.sluiceAs(t, invoke.Token, "invoke", "orders-api").lastLine(); got != `"orders"` {
		t.Fatalf("invoke key, invoke orders-api: %s", got)
	}
	refused(t, n.sluiceAs(t, invoke.Token, "invoke", "billing"), "may not invoke function billing")
	// It reads its async invocations by id, and no other function's.
	mine := n.sluiceAs(t, invoke.Token, "invoke", "orders-api", "--async").lastLine()
	theirs := n.ok(t, "invoke", "billing", "--async").lastLine()
	testkit.EventuallyEvery(t, asyncDeadline, 200*time.Millisecond, func() error {
		if r := n.sluiceAs(t, invoke.Token, "invocation", mine); r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
			return fmt.Errorf("invoke key, its invocation: %s", r)
		}
		return nil
	})
	refused(t, n.sluiceAs(t, invoke.Token, "invocation", theirs), "no invocation")
	refused(t, n.sluiceAs(t, invoke.Token, "list"), "forbidden")
	refused(t, n.sluiceAs(t, invoke.Token, "code", "orders-api", "main.py"), "forbidden")
	refused(t, n.sluiceAs(t, invoke.Token, "deploy", "orders-api", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1"), "forbidden")
	bearer := func(k wire.IssuedKey) []string { return []string{"Authorization", "Bearer " + k.Token} }
	if r := n.request(t, http.MethodPost, "/fn/orders-api", nil, true, bearer(invoke)...); r.status != 200 {
		t.Fatalf("invoke key, function URL of orders-api: %d %s", r.status, r.body)
	}
	if r := n.request(t, http.MethodPost, "/fn/billing", nil, true, bearer(invoke)...); r.status != 403 {
		t.Fatalf("invoke key, function URL of billing: %d %s", r.status, r.body)
	}
	for _, k := range []wire.IssuedKey{invoke, deploy} {
		if r := n.request(t, http.MethodGet, "/metrics", nil, true, bearer(k)...); r.status != 403 {
			t.Fatalf("%s key, /metrics: %d", k.Scope, r.status)
		}
		if r := n.request(t, http.MethodGet, "/v1/keys", nil, true, bearer(k)...); r.status != 403 {
			t.Fatalf("%s key, GET /v1/keys: %d", k.Scope, r.status)
		}
	}

	// The deploy key manages its functions and sees no other.
	if got := n.sluiceAs(t, deploy.Token, "list").stdout; !strings.Contains(got, "orders-api") || strings.Contains(got, "billing") {
		t.Fatalf("deploy key, list:\n%s", got)
	}
	n.sluiceAs(t, deploy.Token, "deploy", "orders-new", "--runtime", "python", "--handler", "main.handler", "--inline", "def handler(e, c):\n    return 'new'\n")
	if got := n.sluiceAs(t, deploy.Token, "invoke", "orders-new").lastLine(); got != `"new"` {
		t.Fatalf("deploy key, invoke of what it deployed: %s", got)
	}
	if got := n.sluiceAs(t, deploy.Token, "code", "orders-api", "main.py").stdout; !strings.Contains(got, "orders") {
		t.Fatalf("deploy key, code of orders-api: %s", got)
	}
	refused(t, n.sluiceAs(t, deploy.Token, "deploy", "billing", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1"), "may not change function billing")
	// Destinations reach no further than the key: no function it may not invoke, no NATS subject
	// (a queue trigger may take it to any function).
	refused(t, n.sluiceAs(t, deploy.Token, "deploy", "orders-new", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1",
		"--on-success", "function:billing"), "may not invoke function billing")
	refused(t, n.sluiceAs(t, deploy.Token, "deploy", "orders-new", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1",
		"--on-failure", "nats:alerts"), "may not send outcomes to NATS subjects")
	if r := n.sluiceAs(t, deploy.Token, "deploy", "orders-new", "--runtime", "python", "--handler", "main.handler", "--inline", "def handler(e, c):\n    return 'new'\n",
		"--on-success", "function:orders-api"); r.code != 0 {
		t.Fatalf("deploy key, a destination among its functions: %s", r)
	}
	refused(t, n.sluiceAs(t, deploy.Token, "get", "billing"), "may not read function billing")
	refused(t, n.sluiceAs(t, deploy.Token, "keys", "list"), "forbidden")

	// AWS's CLI signs with the keys' ids and secrets, and meets the same scopes.
	aws := awsClientOrSkip(t)
	as := func(k wire.IssuedKey) []string {
		return append(awsEnv(t, n, k.SecretAccessKey), "AWS_ACCESS_KEY_ID="+k.AccessKeyID)
	}
	out := filepath.Join(t.TempDir(), "out.json")
	if aws != "" {
		dir := t.TempDir()
		if got := awsJSON(t, aws, n, as(invoke), "lambda", "invoke", "--function-name", "orders-api", out); got["StatusCode"] != 200.0 {
			t.Fatalf("invoke key, aws lambda invoke: %v", got)
		}
		awsRefused(t, aws, n, as(invoke), "AccessDeniedException", "lambda", "invoke", "--function-name", "billing", out)
		awsRefused(t, aws, n, as(invoke), "AccessDeniedException", "lambda", "list-functions")
		zip := filepath.Join(dir, "f.zip")
		writeFile(t, zip, zipOf(t, "app.py", lambdaPy("k")))
		awsRefused(t, aws, n, as(invoke), "AccessDeniedException", "lambda", "create-function", "--function-name", "orders-x",
			"--runtime", "python3.12", "--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+zip)
		listed := awsJSON(t, aws, n, as(deploy), "lambda", "list-functions")
		if names := namesOf(listed["Functions"]); strings.Join(names, ",") != "orders-api,orders-new" {
			t.Fatalf("deploy key, aws lambda list-functions: %v", names)
		}
		awsRefused(t, aws, n, as(deploy), "AccessDeniedException", "lambda", "create-function", "--function-name", "billing-2",
			"--runtime", "python3.12", "--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+zip)
		awsJSON(t, aws, n, as(deploy), "lambda", "create-function", "--function-name", "orders-lambda",
			"--runtime", "python3.12", "--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+zip)
		// A key's pattern is held to the function a name resolves to, not to the whole name: an
		// ARN with a qualifier matching "*-api" does not reach billing through its alias.
		api := issueKey(t, n, "--scope", "invoke", "--functions", "*-api")
		n.ok(t, "alias", "set", "billing", "prod-api", "1")
		awsRefused(t, aws, n, as(api), "AccessDeniedException", "lambda", "invoke", "--function-name",
			"arn:aws:lambda:eu-west-1:000000000000:function:billing:prod-api", out)
		if got := awsJSON(t, aws, n, as(api), "lambda", "invoke", "--function-name", "orders-api", out); got["StatusCode"] != 200.0 {
			t.Fatalf("a *-api key, invoke orders-api: %v", got)
		}
	}

	// Listed without secrets; revoked, a key opens nothing.
	r := n.ok(t, "keys", "list", "-o", "json")
	if strings.Contains(r.stdout, invoke.SecretAccessKey) || strings.Contains(r.stdout, "sealed") || !strings.Contains(r.stdout, invoke.AccessKeyID) {
		t.Fatalf("keys list:\n%s", r.stdout)
	}
	n.ok(t, "keys", "revoke", invoke.AccessKeyID)
	if r := n.sluiceAs(t, invoke.Token, "invoke", "orders-api"); r.code == 0 || !strings.Contains(r.stderr, "missing or wrong token") {
		t.Fatalf("a revoked key: %s", r)
	}
	if r := n.request(t, http.MethodPost, "/fn/orders-api", nil, true, bearer(invoke)...); r.status != 401 {
		t.Fatalf("a revoked key, function URL: %d %s", r.status, r.body)
	}
	if aws != "" {
		awsRefused(t, aws, n, as(invoke), "UnrecognizedClientException", "lambda", "invoke", "--function-name", "orders-api", out)
	}
}

// namesOf lists the FunctionName of each configuration in a decoded list.
func namesOf(list any) []string {
	var out []string
	items, _ := list.([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m["FunctionName"].(string))
	}
	return out
}
