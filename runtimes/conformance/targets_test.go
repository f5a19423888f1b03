package conformance

import "strings"

// target is one runtime under the suite; its fixtures live in testdata/<runtime>/.
type target struct {
	runtime string
	// handler is the handler that runs a fixture ("echo" → "main.echo").
	handler func(fixture string) string
	// errorType is the errorType the fail fixture's error reaches the caller with.
	errorType string
}

// targets lists every runtime the suite runs: one entry each.
var targets = []target{
	{runtime: "python", handler: prefixed("main."), errorType: "ValueError"},
	{runtime: "nodejs", handler: prefixed("index."), errorType: "TypeError"},
	{runtime: "php", handler: phpHandler, errorType: "InvalidArgumentException"},
	{runtime: "java", handler: prefixed("conformance.Fixtures::"), errorType: "java.lang.IllegalArgumentException"},
	{runtime: "dotnet", handler: dotnetHandler, errorType: "InvalidOperationException"},
	// go and custom: one executable holds every fixture and reads the handler (_HANDLER).
	{runtime: "go", handler: prefixed(""), errorType: "errorString"},
	{runtime: "custom", handler: prefixed(""), errorType: "Error"},
}

// phpHandler names the php fixtures: echo is a reserved word in PHP.
func phpHandler(fixture string) string {
	if fixture == "echo" {
		return "main.echo_event"
	}
	return "main." + fixture
}

// prefixed names fixtures as functions of one module: prefix + fixture.
func prefixed(prefix string) func(string) string {
	return func(fixture string) string { return prefix + fixture }
}

// dotnetHandler names the dotnet fixtures: C# methods are capitalised (echo → Echo).
func dotnetHandler(fixture string) string {
	return "Conformance.Fixtures::" + strings.ToUpper(fixture[:1]) + fixture[1:]
}
