package lambdaapi

import (
	"fmt"
	"strings"

	"sluice.dev/events"
)

// sluiceRuntime maps a Lambda runtime identifier to sluice's runtime, or says why there is
// none. sluice's own names (python, nodejs, java, dotnet, php, go, custom) pass unchanged.
func sluiceRuntime(lambda string) (string, error) {
	switch {
	case lambda == "":
		return "", fmt.Errorf("Runtime is required for a .zip package")
	case strings.HasPrefix(lambda, "python3."):
		return "python", nil
	case strings.HasPrefix(lambda, "nodejs") && strings.HasSuffix(lambda, ".x"):
		return "nodejs", nil
	case strings.HasPrefix(lambda, "java"):
		return "java", nil
	case strings.HasPrefix(lambda, "dotnet"):
		return "dotnet", nil
	case lambda == "provided" || strings.HasPrefix(lambda, "provided."):
		return "custom", nil
	case lambda == "go1.x":
		return "", fmt.Errorf("runtime go1.x ran a compiled binary named by the handler, which Lambda itself retired: build the binary as bootstrap and use provided.al2023, or send Go source with runtime go")
	}
	switch lambda {
	case "python", "nodejs", "java", "dotnet", "php", "go", "custom":
		return lambda, nil
	}
	return "", fmt.Errorf("runtime %s has no sluice runtime: use python3.x, nodejs*.x, java*, dotnet*, provided.al2023 (a bootstrap), or sluice's php and go", lambda)
}

// lambdaRuntime names the runtime of cfg as the Lambda API answers it: as that API was given
// it; else a custom runtime as Lambda's provided.al2023 (what it is) and any other by sluice's
// own name, which says truly what runs it (sluice's python is the host's Python 3, whichever).
func lambdaRuntime(cfg events.Config) string {
	switch {
	case cfg.LambdaRuntime != "":
		return cfg.LambdaRuntime
	case cfg.Runtime == "custom":
		return "provided.al2023"
	}
	return cfg.Runtime
}
