package dotnet

import "embed"

// Sources holds the bootstrap's C# sources (namespace Sluice.Runtime), compiled by the catalog
// into the assembly Sluice.Runtime.exe; functions' C# sources compile against it (for
// ILambdaContext).
//
//go:embed *.cs
var Sources embed.FS

// Rehearsal holds, under rehearsal/, the sources of the assembly a pre-started process loads and
// invokes while it waits. The catalog compiles it first and embeds it in the bootstrap assembly
// as the resource RehearsalAssembly.
//
//go:embed rehearsal/*.cs
var Rehearsal embed.FS

// Assembly is the bootstrap assembly's file name, which names the assembly.
const Assembly = "Sluice.Runtime.exe"

// RehearsalAssembly is the rehearsal assembly's file name, and its resource's name in the
// bootstrap assembly.
const RehearsalAssembly = "Sluice.Rehearsal.dll"

// References are the framework assemblies the bootstrap uses besides the defaults.
var References = []string{"System.Web.Extensions"}
