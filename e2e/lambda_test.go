package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"sluice.dev/events/testkit"
	"sluice.dev/services/keys"
)

// Environment variables naming AWS's clients for the Lambda API tests; unset, they are looked up
// on PATH. With SLUICE_REQUIRE_AWS_CLIENTS=1 (as CI sets) a missing client fails the test
// instead of skipping it.
const (
	awsCLIEnv      = "SLUICE_AWS_CLI"      // the aws command
	boto3PythonEnv = "SLUICE_BOTO3_PYTHON" // a python3 that imports boto3
)

// awsClient finds one of AWS's clients: the command env names, else name on PATH, checked by
// running it with args. Without it the test is skipped, unless clients are required.
func awsClient(t *testing.T, env, name string, args ...string) string {
	t.Helper()
	bin, why := findAWSClient(t, env, name, args...)
	if bin == "" {
		t.Skip(why)
	}
	return bin
}

// awsClientOrSkip finds the aws CLI for the part of a test that drives it: "" (and that part
// is left out) when there is none and clients are not required.
func awsClientOrSkip(t *testing.T) string {
	t.Helper()
	bin, why := findAWSClient(t, awsCLIEnv, "aws", "--version")
	if bin == "" {
		t.Log(why)
	}
	return bin
}

func findAWSClient(t *testing.T, env, name string, args ...string) (bin, why string) {
	t.Helper()
	bin = os.Getenv(env)
	if bin == "" {
		bin, _ = exec.LookPath(name)
	}
	if bin != "" {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			return bin, ""
		}
		t.Logf("%s %s: %v: %s", bin, strings.Join(args, " "), err, out)
	}
	if os.Getenv("SLUICE_REQUIRE_AWS_CLIENTS") == "1" {
		t.Fatalf("%s not found or not working (set %s); CI installs Debian's awscli and python3-boto3", name, env)
	}
	return "", fmt.Sprintf("%s not found (set %s, or install Debian's awscli and python3-boto3)", name, env)
}

// awsEnv is the environment AWS's clients run in against node n: the node's admin key, a
// region, and no files or settings of the machine's own AWS configuration.
func awsEnv(t *testing.T, n *node, secret string) []string {
	dir := t.TempDir()
	env := []string{
		"HOME=" + dir, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + keys.AdminKeyID(n.Token), "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
	}
	return env
}

// awsCmd is one run of the aws CLI.
type awsCmd struct {
	code           int
	stdout, stderr string
}

func (c awsCmd) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", c.code, c.stdout, c.stderr)
}

// runAWS runs the aws CLI against n with env.
func runAWS(t *testing.T, bin string, n *node, env []string, args ...string) awsCmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", n.URL, "--output", "json"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	c := awsCmd{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && ctx.Err() == nil:
		c.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, c)
	}
	return c
}

// awsJSON runs the aws CLI, which must succeed, and decodes what it printed.
func awsJSON(t *testing.T, bin string, n *node, env []string, args ...string) map[string]any {
	t.Helper()
	c := runAWS(t, bin, n, env, args...)
	if c.code != 0 {
		t.Fatalf("aws %s: %s", strings.Join(args, " "), c)
	}
	out := map[string]any{}
	if strings.TrimSpace(c.stdout) != "" {
		if err := json.Unmarshal([]byte(c.stdout), &out); err != nil {
			t.Fatalf("aws %s printed no JSON object: %v\n%s", strings.Join(args, " "), err, c)
		}
	}
	return out
}

// awsRefused runs the aws CLI, which must fail with Lambda's error type want.
func awsRefused(t *testing.T, bin string, n *node, env []string, want string, args ...string) {
	t.Helper()
	c := runAWS(t, bin, n, env, args...)
	if c.code == 0 || !strings.Contains(c.stderr, "("+want+")") {
		t.Fatalf("aws %s: want a %s, got %s", strings.Join(args, " "), want, c)
	}
}

// lambdaPy answers with the event, its variable GREETING and a mark of its code; an event with
// "fail" raises, and one with "print" prints it.
func lambdaPy(mark string) string {
	return `import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if "print" in event:
        print(event["print"])
    return {"mark": "` + mark + `", "event": event, "greeting": os.environ.get("GREETING", "")}
`
}

// TestLambdaAPIWithTheAWSCLI manages and invokes a function with the AWS CLI, signed with the
// node's admin key, as a Lambda user would, and is refused with a wrong key.
func TestLambdaAPIWithTheAWSCLI(t *testing.T) {
	aws := awsClient(t, awsCLIEnv, "aws", "--version")
	n := newSite(t).start(t)
	env := awsEnv(t, n, n.Token)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, b)
		return p
	}
	v1 := file("v1.zip", zipOf(t, "app.py", lambdaPy("one")))
	v2 := file("v2.zip", zipOf(t, "app.py", lambdaPy("two")))

	created := awsJSON(t, aws, n, env, "lambda", "create-function", "--function-name", "greeter", "--runtime", "python3.12",
		"--handler", "app.handler", "--role", "arn:aws:iam::123456789012:role/ignored", "--zip-file", "fileb://"+v1,
		"--environment", "Variables={GREETING=hello}", "--timeout", "10")
	for k, want := range map[string]any{"FunctionName": "greeter", "Runtime": "python3.12", "Handler": "app.handler",
		"Version": "$LATEST", "Timeout": 10.0, "MemorySize": 128.0, "State": "Active",
		"FunctionArn": "arn:aws:lambda:eu-west-1:000000000000:function:greeter"} {
		if created[k] != want {
			t.Errorf("create-function %s = %v, want %v", k, created[k], want)
		}
	}
	awsRefused(t, aws, n, env, "ResourceConflictException", "lambda", "create-function", "--function-name", "greeter",
		"--runtime", "python3.12", "--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+v1)
	awsRefused(t, aws, n, env, "InvalidParameterValueException", "lambda", "create-function", "--function-name", "gem",
		"--runtime", "ruby3.3", "--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+v1)

	invoke := func(payload string, extra ...string) (map[string]any, map[string]any) {
		t.Helper()
		out := filepath.Join(dir, "out.json")
		_ = os.Remove(out)
		meta := awsJSON(t, aws, n, env, append(append([]string{"lambda", "invoke", "--function-name", "greeter",
			"--payload", "fileb://" + file("payload.json", []byte(payload))}, extra...), out)...)
		body := map[string]any{}
		if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("invoke answered %q: %v", b, err)
			}
		}
		return meta, body
	}
	meta, body := invoke(`{"n": 1}`)
	if meta["StatusCode"] != 200.0 || meta["ExecutedVersion"] != "1" || meta["FunctionError"] != nil ||
		body["mark"] != "one" || body["greeting"] != "hello" || fmt.Sprint(body["event"]) != "map[n:1]" {
		t.Fatalf("invoke: %v %v", meta, body)
	}
	meta, body = invoke(`{"fail": true}`)
	if meta["StatusCode"] != 200.0 || meta["FunctionError"] != "Unhandled" || body["errorType"] != "ValueError" || body["errorMessage"] != "asked to fail" {
		t.Fatalf("invoke of a failing call: %v %v", meta, body)
	}
	// LogType Tail: the call's START, what it printed, END and REPORT, base64.
	meta, _ = invoke(`{"print": "tail me"}`, "--log-type", "Tail")
	tail, err := base64.StdEncoding.DecodeString(fmt.Sprint(meta["LogResult"]))
	if err != nil || !regexp.MustCompile(`^START RequestId: (\S+) Version: 1\ntail me\nEND RequestId: (\S+)\nREPORT RequestId: \S+ Duration: [0-9.]+ ms Billed Duration: \d+ ms Memory Size: 128 MB`).Match(tail) {
		t.Fatalf("invoke --log-type Tail: %v\n%s", err, tail)
	}
	if meta, _ = invoke(`{}`, "--invocation-type", "DryRun"); meta["StatusCode"] != 204.0 {
		t.Fatalf("DryRun: %v", meta)
	}
	mark := fmt.Sprintf("queued-%d", time.Now().UnixNano())
	if meta, _ = invoke(`{"print": "`+mark+`"}`, "--invocation-type", "Event"); meta["StatusCode"] != 202.0 {
		t.Fatalf("Event: %v", meta)
	}
	testkit.EventuallyEvery(t, asyncDeadline, 300*time.Millisecond, func() error {
		if r := n.sluice(t, "logs", "greeter", "--grep", mark); !strings.Contains(r.stdout, mark) {
			return fmt.Errorf("the Event call printed nothing yet: %s", r)
		}
		return nil
	})

	updated := awsJSON(t, aws, n, env, "lambda", "update-function-configuration", "--function-name", "greeter",
		"--memory-size", "256", "--environment", "Variables={GREETING=bonjour}")
	if updated["MemorySize"] != 256.0 || updated["Version"] != "$LATEST" {
		t.Fatalf("update-function-configuration: %v", updated)
	}
	if _, body = invoke(`{}`); body["greeting"] != "bonjour" || body["mark"] != "one" {
		t.Fatalf("invoke after the configuration changed: %v", body)
	}
	awsJSON(t, aws, n, env, "lambda", "update-function-code", "--function-name", "greeter", "--zip-file", "fileb://"+v2)
	if _, body = invoke(`{}`); body["mark"] != "two" || body["greeting"] != "bonjour" {
		t.Fatalf("invoke after the code changed: %v", body)
	}
	published := awsJSON(t, aws, n, env, "lambda", "publish-version", "--function-name", "greeter")
	if published["Version"] != "3" || published["FunctionArn"] != "arn:aws:lambda:eu-west-1:000000000000:function:greeter:3" {
		t.Fatalf("publish-version: %v", published)
	}
	listed := awsJSON(t, aws, n, env, "lambda", "list-versions-by-function", "--function-name", "greeter")
	if got := fmt.Sprint(versionsOf(listed["Versions"])); got != "[$LATEST 1 2 3]" {
		t.Fatalf("list-versions-by-function: %s", got)
	}
	if meta, body = invoke(`{}`, "--qualifier", "1"); meta["ExecutedVersion"] != "1" || body["mark"] != "one" || body["greeting"] != "hello" {
		t.Fatalf("invoke of version 1: %v %v", meta, body)
	}
	got := awsJSON(t, aws, n, env, "lambda", "get-function", "--function-name", "greeter", "--qualifier", "2")
	if cfg, _ := got["Configuration"].(map[string]any); cfg["Version"] != "2" || cfg["MemorySize"] != 256.0 {
		t.Fatalf("get-function of version 2: %v", got)
	}
	fns := awsJSON(t, aws, n, env, "lambda", "list-functions")
	if list, _ := fns["Functions"].([]any); len(list) != 1 {
		t.Fatalf("list-functions: %v", fns)
	}

	// An alias with a canary: half of its calls run version 3.
	alias := awsJSON(t, aws, n, env, "lambda", "create-alias", "--function-name", "greeter", "--name", "live",
		"--function-version", "2", "--routing-config", `{"AdditionalVersionWeights": {"3": 0.5}}`)
	if alias["AliasArn"] != "arn:aws:lambda:eu-west-1:000000000000:function:greeter:live" || alias["FunctionVersion"] != "2" ||
		fmt.Sprint(alias["RoutingConfig"]) != "map[AdditionalVersionWeights:map[3:0.5]]" {
		t.Fatalf("create-alias: %v", alias)
	}
	awsRefused(t, aws, n, env, "ResourceConflictException", "lambda", "create-alias", "--function-name", "greeter", "--name", "live", "--function-version", "1")
	ran := map[string]bool{}
	for range 16 {
		meta, body := invoke(`{}`, "--qualifier", "live")
		ran[fmt.Sprint(meta["ExecutedVersion"], "=", body["mark"])] = true
	}
	if !ran["2=one"] || !ran["3=two"] || len(ran) != 2 {
		t.Fatalf("calls of the canary alias ran %v, want versions 2 (code one) and 3 (code two)", ran)
	}
	alias = awsJSON(t, aws, n, env, "lambda", "update-alias", "--function-name", "greeter", "--name", "live",
		"--function-version", "3", "--routing-config", `{"AdditionalVersionWeights": {}}`)
	if alias["FunctionVersion"] != "3" || alias["RoutingConfig"] != nil {
		t.Fatalf("update-alias: %v", alias)
	}
	if got := awsJSON(t, aws, n, env, "lambda", "get-alias", "--function-name", "greeter", "--name", "live"); got["FunctionVersion"] != "3" {
		t.Fatalf("get-alias: %v", got)
	}
	if meta, body = invoke(`{}`, "--qualifier", "live"); meta["ExecutedVersion"] != "3" || body["mark"] != "two" {
		t.Fatalf("invoke of the alias: %v %v", meta, body)
	}
	if got := awsJSON(t, aws, n, env, "lambda", "list-aliases", "--function-name", "greeter"); len(got["Aliases"].([]any)) != 1 {
		t.Fatalf("list-aliases: %v", got)
	}
	awsJSON(t, aws, n, env, "lambda", "delete-alias", "--function-name", "greeter", "--name", "live")
	awsRefused(t, aws, n, env, "ResourceNotFoundException", "lambda", "get-alias", "--function-name", "greeter", "--name", "live")

	awsRefused(t, aws, n, awsEnv(t, n, "not-the-token"), "InvalidSignatureException", "lambda", "list-functions")
	other := append(awsEnv(t, n, n.Token), "AWS_ACCESS_KEY_ID=SLUICEUNKNOWNKEY0")
	awsRefused(t, aws, n, other, "UnrecognizedClientException", "lambda", "list-functions")
	awsRefused(t, aws, n, env, "ResourceNotFoundException", "lambda", "invoke", "--function-name", "nobody", filepath.Join(dir, "none.json"))

	awsJSON(t, aws, n, env, "lambda", "delete-function", "--function-name", "greeter")
	awsRefused(t, aws, n, env, "ResourceNotFoundException", "lambda", "get-function", "--function-name", "greeter")
}

// writeFile writes a test's file.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// versionsOf lists the Version of each configuration in a decoded list.
func versionsOf(list any) []string {
	var out []string
	items, _ := list.([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, fmt.Sprint(m["Version"]))
	}
	return out
}

// boto3Script drives the Lambda API as a boto3 user does, printing one JSON object per step;
// with the argument "delete" it deletes the function instead.
const boto3Script = `
import json, os, sys
import boto3
from botocore.exceptions import ClientError

def client(secret=None):
    return boto3.client("lambda", endpoint_url=os.environ["SLUICE_URL"],
                        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"])

lam = client()
def out(step, **kw):
    print(json.dumps(dict(step=step, **kw), default=str), flush=True)

if sys.argv[1] == "delete":
    lam.delete_function(FunctionName="boto")
    out("deleted", names=[f["FunctionName"] for f in lam.list_functions()["Functions"]])
    sys.exit(0)

def code(name):
    with open(os.path.join(os.environ["CODE_DIR"], name), "rb") as f:
        return f.read()

c = lam.create_function(FunctionName="boto", Runtime="python3.11", Role="arn:aws:iam::1:role/r",
                        Handler="app.handler", Code={"ZipFile": code("v1.zip")},
                        Environment={"Variables": {"GREETING": "hej"}}, MemorySize=192)
out("create", name=c["FunctionName"], runtime=c["Runtime"], memory=c["MemorySize"], version=c["Version"])

r = lam.invoke(FunctionName="boto", Payload=json.dumps({"n": 2}))
out("invoke", status=r["StatusCode"], version=r.get("ExecutedVersion"), error=r.get("FunctionError"),
    body=json.loads(r["Payload"].read()))

r = lam.invoke(FunctionName="boto", Payload=json.dumps({"fail": True}))
body = json.loads(r["Payload"].read())
out("fail", status=r["StatusCode"], error=r.get("FunctionError"), type=body["errorType"], message=body["errorMessage"],
    trace="app.py" in "".join(body.get("stackTrace", [])))

r = lam.invoke(FunctionName="boto", InvocationType="Event", Payload=json.dumps({"print": sys.argv[1]}))
out("event", status=r["StatusCode"])

lam.update_function_code(FunctionName="boto", ZipFile=code("v2.zip"))
p = lam.publish_version(FunctionName="boto")
out("publish", version=p["Version"])
r = lam.invoke(FunctionName="boto", Qualifier="1", Payload=b"{}")
out("qualified", version=r.get("ExecutedVersion"), body=json.loads(r["Payload"].read()))

fns = lam.list_functions()["Functions"]
out("list", names=[f["FunctionName"] for f in fns])

for step, call in [("missing", lambda: lam.get_function(FunctionName="nobody")),
                   ("forged", lambda: client("wrong").list_functions())]:
    try:
        call()
        out(step, code=None)
    except ClientError as e:
        out(step, code=e.response["Error"]["Code"], status=e.response["ResponseMetadata"]["HTTPStatusCode"])
`

// TestLambdaAPIWithBoto3 manages and invokes a function with boto3, as a Lambda user's script
// does.
func TestLambdaAPIWithBoto3(t *testing.T) {
	python := awsClient(t, boto3PythonEnv, "python3", "-c", "import boto3")
	n := newSite(t).start(t)
	dir := t.TempDir()
	for name, mark := range map[string]string{"v1.zip": "one", "v2.zip": "two"} {
		writeFile(t, filepath.Join(dir, name), zipOf(t, "app.py", lambdaPy(mark)))
	}
	mark := fmt.Sprintf("boto-%d", time.Now().UnixNano())
	steps := boto3Steps(t, python, n, dir, mark)
	for step, want := range map[string]string{
		"create":    `{"step": "create", "name": "boto", "runtime": "python3.11", "memory": 192, "version": "$LATEST"}`,
		"invoke":    `{"step": "invoke", "status": 200, "version": "1", "error": null, "body": {"mark": "one", "event": {"n": 2}, "greeting": "hej"}}`,
		"fail":      `{"step": "fail", "status": 200, "error": "Unhandled", "type": "ValueError", "message": "asked to fail", "trace": true}`,
		"event":     `{"step": "event", "status": 202}`,
		"publish":   `{"step": "publish", "version": "2"}`,
		"qualified": `{"step": "qualified", "version": "1", "body": {"mark": "one", "event": {}, "greeting": "hej"}}`,
		"list":      `{"step": "list", "names": ["boto"]}`,
		"missing":   `{"step": "missing", "code": "ResourceNotFoundException", "status": 404}`,
		"forged":    `{"step": "forged", "code": "InvalidSignatureException", "status": 403}`,
	} {
		if steps[step] != want {
			t.Errorf("boto3 %s:\n got %s\nwant %s", step, steps[step], want)
		}
	}
	testkit.EventuallyEvery(t, asyncDeadline, 300*time.Millisecond, func() error {
		if r := n.sluice(t, "logs", "boto", "--grep", mark); !strings.Contains(r.stdout, mark) {
			return fmt.Errorf("the Event call printed nothing yet: %s", r)
		}
		return nil
	})
	if got, want := boto3Steps(t, python, n, dir, "delete")["deleted"], `{"step": "deleted", "names": []}`; got != want {
		t.Errorf("boto3 delete:\n got %s\nwant %s", got, want)
	}
}

// boto3Steps runs boto3Script with arg and returns the line it printed for each step.
func boto3Steps(t *testing.T, python string, n *node, dir, arg string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", boto3Script, arg)
	cmd.Env = append(awsEnv(t, n, n.Token), "SLUICE_URL="+n.URL, "CODE_DIR="+dir)
	b, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("boto3 script: %v\nstdout: %s\nstderr: %s", err, b, exit.Stderr)
		}
		t.Fatal(err)
	}
	steps := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var s struct {
			Step string `json:"step"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("boto3 script printed %q: %v", line, err)
		}
		steps[s.Step] = line
	}
	return steps
}

// TestLambdaAPIWithTheGoSDK creates, invokes, aliases and deletes a function with
// aws-sdk-go-v2's Lambda client, and is refused with a forged secret.
func TestLambdaAPIWithTheGoSDK(t *testing.T) {
	n := newSite(t).start(t)
	client := func(secret string) *lambda.Client {
		return lambda.New(lambda.Options{
			Region: "eu-west-1", BaseEndpoint: aws.String(n.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(keys.AdminKeyID(n.Token), secret, ""),
		})
	}
	lc := client(n.Token)
	ctx := t.Context()
	created, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("sdk"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::1:role/r"), Code: &types.FunctionCode{ZipFile: zipOf(t, "app.py", lambdaPy("one"))},
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hallo"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.Version) != "$LATEST" || created.Runtime != types.RuntimePython312 || aws.ToInt32(created.MemorySize) != 128 {
		t.Fatalf("CreateFunction: %+v", created)
	}
	out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Payload: []byte(`{"n": 3}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "1" || out.FunctionError != nil ||
		string(out.Payload) != `{"mark": "one", "event": {"n": 3}, "greeting": "hallo"}` {
		t.Fatalf("Invoke: %d %q %q %s", out.StatusCode, aws.ToString(out.ExecutedVersion), aws.ToString(out.FunctionError), out.Payload)
	}
	out, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Payload: []byte(`{"fail": true}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorMessage":"asked to fail"`) {
		t.Fatalf("Invoke of a failing call: %v %+v", err, out)
	}
	out, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Invoke, Event: %v %+v", err, out)
	}
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("sdk"), ZipFile: zipOf(t, "app.py", lambdaPy("two"))}); err != nil {
		t.Fatal(err)
	}
	pub, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("sdk")})
	if err != nil || aws.ToString(pub.Version) != "2" {
		t.Fatalf("PublishVersion: %v %+v", err, pub)
	}
	if _, err := lc.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("sdk"), Name: aws.String("stable"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	out, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sdk"), Qualifier: aws.String("stable"), Payload: []byte(`{}`)})
	if err != nil || aws.ToString(out.ExecutedVersion) != "1" || !strings.Contains(string(out.Payload), `"mark": "one"`) {
		t.Fatalf("Invoke of the alias: %v %+v", err, out)
	}

	// Reserved concurrency 1: a second synchronous call while one runs is throttled.
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("slow"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"), Role: aws.String("r"),
		Code: &types.FunctionCode{ZipFile: zipOf(t, "app.py", "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("slow"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if got, err := lc.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("slow")}); err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 1 {
		t.Fatalf("GetFunctionConcurrency: %v %+v", err, got)
	}
	first := make(chan error, 1)
	go func() {
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{"sleep": 3}`)})
		if err == nil && string(out.Payload) != `"done"` {
			err = fmt.Errorf("answered %s", out.Payload)
		}
		first <- err
	}()
	time.Sleep(time.Second) // the first call is running
	var throttled *types.TooManyRequestsException
	if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{}`)}); !errors.As(err, &throttled) {
		t.Fatalf("a second call past the reserved concurrency: %v, want TooManyRequestsException", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the call within the reserved concurrency: %v", err)
	}
	if _, err := lc.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	if got, err := lc.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("slow")}); err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("GetFunctionConcurrency after the delete: %v %+v", err, got)
	}

	var notFound *types.ResourceNotFoundException
	if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nobody")}); !errors.As(err, &notFound) {
		t.Fatalf("GetFunction of a missing function: %v", err)
	}
	var apiErr smithy.APIError
	if _, err := client("forged").ListFunctions(ctx, &lambda.ListFunctionsInput{}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("ListFunctions with a forged secret: %v", err)
	}
	if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("sdk")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk")}); !errors.As(err, &notFound) {
		t.Fatalf("GetFunction after DeleteFunction: %v", err)
	}
}

// auditPy prints the destination records it receives: their condition and the mark of the
// event they are about.
const auditPy = `def handler(event, context):
    req = event.get("requestPayload") or {}
    print("AUDIT %s %s %s" % (event["requestContext"]["condition"], req.get("mark"), event["responseContext"].get("functionError", "-")))
`

// TestLambdaDestinationsWithTheAWSCLI sets a function's async settings and destinations with the
// AWS CLI, and sees a success and a failure reach the destination function as Lambda's records.
func TestLambdaDestinationsWithTheAWSCLI(t *testing.T) {
	aws := awsClient(t, awsCLIEnv, "aws", "--version")
	n := newSite(t).start(t)
	env := awsEnv(t, n, n.Token)
	dir := t.TempDir()
	deployInline(t, n, "audit", auditPy)
	if r := n.sluice(t, "deploy", "odd", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1", "--on-success", "dlq"); r.code == 0 || !strings.Contains(r.stderr, "onSuccess") {
		t.Fatalf("a success destination of dlq: %s", r)
	}
	if r := n.sluice(t, "deploy", "odd", "--runtime", "python", "--handler", "main.handler", "--inline", "x = 1", "--on-failure", "function:nobody"); r.code == 0 || !strings.Contains(r.stderr, "destination function:nobody") {
		t.Fatalf("a destination function that does not exist: %s", r)
	}
	zip := filepath.Join(dir, "f.zip")
	writeFile(t, zip, zipOf(t, "app.py", lambdaPy("one")))
	awsJSON(t, aws, n, env, "lambda", "create-function", "--function-name", "orders", "--runtime", "python3.12",
		"--handler", "app.handler", "--role", "r", "--zip-file", "fileb://"+zip)
	audit := "arn:aws:lambda:eu-west-1:000000000000:function:audit"
	put := awsJSON(t, aws, n, env, "lambda", "put-function-event-invoke-config", "--function-name", "orders",
		"--maximum-retry-attempts", "0", "--maximum-event-age-in-seconds", "120",
		"--destination-config", `{"OnSuccess": {"Destination": "`+audit+`"}, "OnFailure": {"Destination": "function:audit"}}`)
	if put["MaximumRetryAttempts"] != 0.0 || put["MaximumEventAgeInSeconds"] != 120.0 ||
		fmt.Sprint(put["DestinationConfig"]) != "map[OnFailure:map[Destination:function:audit] OnSuccess:map[Destination:"+audit+"]]" {
		t.Fatalf("put-function-event-invoke-config: %v", put)
	}
	if got := awsJSON(t, aws, n, env, "lambda", "get-function-event-invoke-config", "--function-name", "orders"); got["MaximumEventAgeInSeconds"] != 120.0 {
		t.Fatalf("get-function-event-invoke-config: %v", got)
	}
	for _, bad := range []string{"nats:sluice.invoke.audit", "function:nobody"} {
		awsRefused(t, aws, n, env, "InvalidParameterValueException", "lambda", "update-function-event-invoke-config", "--function-name", "orders",
			"--destination-config", `{"OnSuccess": {"Destination": "`+bad+`"}}`)
	}

	for _, payload := range []string{`{"mark": "m-ok"}`, `{"mark": "m-fail", "fail": true}`} {
		p := filepath.Join(dir, "p.json")
		writeFile(t, p, []byte(payload))
		if got := awsJSON(t, aws, n, env, "lambda", "invoke", "--function-name", "orders", "--invocation-type", "Event",
			"--payload", "fileb://"+p, filepath.Join(dir, "out.json")); got["StatusCode"] != 202.0 {
			t.Fatalf("invoke, Event: %v", got)
		}
	}
	testkit.EventuallyEvery(t, asyncDeadline, 300*time.Millisecond, func() error {
		out := n.sluice(t, "logs", "audit", "--grep", "AUDIT").stdout
		for _, want := range []string{"AUDIT Success m-ok -", "AUDIT RetriesExhausted m-fail Unhandled"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("the destination printed no %q yet:\n%s", want, out)
			}
		}
		return nil
	})
	awsJSON(t, aws, n, env, "lambda", "delete-function-event-invoke-config", "--function-name", "orders")
	if got := awsJSON(t, aws, n, env, "lambda", "get-function-event-invoke-config", "--function-name", "orders"); got["DestinationConfig"] != nil || got["MaximumRetryAttempts"] != 2.0 {
		t.Fatalf("after delete-function-event-invoke-config: %v", got)
	}
}
