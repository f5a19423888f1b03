package dotnet

import "embed"

// Sources holds the bootstrap's C# sources (namespace Sluice.Runtime), compiled by the catalog
// into the assembly Sluice.Runtime.exe; functions' C# sources compile against it (for
// ILambdaContext).
//
//go:embed *.cs
var Sources embed.FS

// Assembly is the bootstrap assembly's file name, which names the assembly.
const Assembly = "Sluice.Runtime.exe"

// References are the framework assemblies the bootstrap uses besides the defaults.
var References = []string{"System.Web.Extensions"}
