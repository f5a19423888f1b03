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
package dotnet
