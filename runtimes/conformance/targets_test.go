package conformance

import "strings"

// target is one runtime under the suite; its fixtures live in testdata/<runtime>/.
type target struct {
	runtime string
	// handler is the handler that runs a fixture ("echo" → "main.echo").
	handler func(fixture string) string
	// errorType is the errorType the fail fixture's error reaches the caller with.
	errorType string
	// failFrame is in the line of the fail fixture's stack trace that names the fixture's own
	// frame; "" for a runtime whose errors carry no trace.
	failFrame string
}

// targets lists every runtime the suite runs: one entry each.
var targets = []target{
	{runtime: "python", handler: prefixed("main."), errorType: "ValueError", failFrame: "in fail"},
	{runtime: "nodejs", handler: prefixed("index."), errorType: "TypeError", failFrame: "at exports.fail "},
	{runtime: "php", handler: phpHandler, errorType: "InvalidArgumentException", failFrame: ": fail()"},
	{runtime: "java", handler: prefixed("conformance.Fixtures::"), errorType: "java.lang.IllegalArgumentException", failFrame: "conformance.Fixtures.fail("},
	{runtime: "dotnet", handler: dotnetHandler, errorType: "InvalidOperationException", failFrame: "at Conformance.Fixtures.Fail "},
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
