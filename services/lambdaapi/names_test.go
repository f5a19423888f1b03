package lambdaapi

import (
	"strings"
	"testing"
)

func TestFunctionNameReadsNamesAndARNs(t *testing.T) {
	for in, want := range map[string][2]string{
		"orders":      {"orders", ""},
		"orders:live": {"orders", "live"},
		"orders:3":    {"orders", "3"},
		"arn:aws:lambda:eu-west-1:123456789012:function:orders":         {"orders", ""},
		"arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST": {"orders", "$LATEST"},
		"arn:aws:lambda:eu-west-1:123456789012:layer:x":                 {"arn:aws:lambda:eu-west-1:123456789012:layer:x", ""},
	} {
		name, q := functionName(in)
		if name != want[0] || q != want[1] {
			t.Errorf("functionName(%q) = %q, %q; want %q, %q", in, name, q, want[0], want[1])
		}
	}
}

func TestLambdaRuntimesMapToSluices(t *testing.T) {
	for in, want := range map[string]string{
		"python3.12": "python", "python3.9": "python", "nodejs20.x": "nodejs", "java21": "java", "java8.al2": "java",
		"dotnet8": "dotnet", "provided.al2023": "custom", "provided": "custom", "php": "php", "go": "go",
	} {
		if got, err := sluiceRuntime(in); err != nil || got != want {
			t.Errorf("sluiceRuntime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, why := range map[string]string{"go1.x": "provided.al2023", "ruby3.3": "no sluice runtime", "": "required", "nodejs18": "no sluice runtime"} {
		if _, err := sluiceRuntime(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("sluiceRuntime(%q): %v, want an error saying %q", in, err, why)
		}
	}
}
