// Package dotnet holds the bootstrap of the dotnet (C#) runtime: C# sources using the
// framework's own libraries only, compiled once by the catalog with Mono's mcs into the assembly
// Sluice.Runtime.exe and run with mono, serving a handler's invocations over the AWS Lambda
// Runtime API.
//
// A handler is "Namespace.Class::Method", static or an instance method (the class is then made
// once, with its constructor without parameters), taking (), (event) or (event, context). The
// event is the JSON payload given as the parameter's type: string (the payload's text, or the
// JSON string's value), object or Dictionary<string, object> (System.Web.Extensions'
// JavaScriptSerializer: objects are Dictionary<string, object>, arrays object[]), Stream, or
// any type JavaScriptSerializer.ConvertToType can fill (a class with settable properties). The
// result is serialised with JavaScriptSerializer (a Task's result is awaited; a Stream is the
// answer as it is). The context is Sluice.Runtime.ILambdaContext: AwsRequestId, FunctionName,
// FunctionVersion, InvokedFunctionArn, MemoryLimitInMB, RemainingTime, Logger (Log, LogLine),
// CloudEvent.
//
// The function's code is the *.dll files of the task root: its .cs sources compiled at deploy
// into function.dll (against the bootstrap assembly), or assemblies uploaded as they are. A
// handler that cannot be loaded goes to /init/error (Runtime.TypeNotFound,
// Runtime.HandlerNotFound, ...); an exception goes to /error with errorType = its type's name.
//
// Started without _HANDLER, the process is a pre-started generic one: it runs its own paths once
// on types of its own (Warm: handlers resolved, invoked and answered, JSON both ways), so that
// Mono has compiled them, and rehearses taking on a function: on a connection played from canned
// answers it takes a specialisation with its own environment, loads the rehearsal assembly
// (rehearsal/, compiled by the catalog and embedded in the bootstrap as a resource) from a folder
// of its own and turns the invocation loop twice, then removes the folder; the assembly stays
// loaded. A function's first load, type lookup and answer then cost what a later one would. Then
// it asks GET /sluice/specialize and waits there. Assigned a function, it takes on the environment it is
// given (the process's own, which its children inherit), the task root as its working directory
// and the function's time zone, and loads the function's assemblies as above.
package dotnet
