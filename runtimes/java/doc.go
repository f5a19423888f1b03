// Package java holds the bootstrap of the java runtime: Java sources (JDK only, package
// dev.sluice.runtime) that the catalog compiles once into a jar with the worker's javac, and
// that serve a handler's invocations over the AWS Lambda Runtime API.
//
// A handler is "pkg.Class::method" (or "pkg.Class", meaning its handleRequest method), static or
// an instance method (the class is then made once, with its constructor without parameters).
// It takes (), (event), (event, context) or (InputStream, OutputStream[, context]). The event is
// the JSON payload bound to the parameter's declared type: String (the payload's text, or the
// JSON string's value), Object, Map or List (parsed JSON: LinkedHashMap, ArrayList, String,
// Integer/Long/BigInteger, Double, Boolean, null), a number or boolean, an array or typed
// collection, or a plain class or record whose fields are filled by name (unknown names are
// ignored). The result is written back as JSON: maps, collections, arrays, records and plain
// objects (public fields and getters); a stream handler's output is the answer as it is.
//
// The context is dev.sluice.runtime.Context (getAwsRequestId, getFunctionName,
// getFunctionVersion, getInvokedFunctionArn, getMemoryLimitInMB, getRemainingTimeInMillis,
// getLogger, getCloudEvent, ...); a handler declaring another interface with those method names,
// such as AWS Lambda's own Context from aws-lambda-java-core, gets a proxy implementing it.
//
// Classes are loaded from the task root: its folder of classes, its *.jar files and those in
// lib/. A handler that cannot be loaded goes to /init/error (Runtime.ClassNotFound,
// Runtime.HandlerNotFound, ...) and ends the process; an exception goes to /error with errorType
// = its class's name, errorMessage and stackTrace. What the function prints to System.out and
// System.err is flushed before each answer, so its lines are captured with their invocation.
//
// Started without _HANDLER, the process is a pre-started generic one: it runs its own paths once
// on classes of its own (Warm: a class defined by a new class loader, handlers resolved, invoked
// and answered, the Runtime API's answers read, time zone data loaded), then asks GET
// /sluice/specialize and waits there. Assigned a function, it takes on the environment it is given
// (System.getenv and new ProcessBuilders see it; the process's own stays, see Environment), the
// function's time zone, and loads the handler from the task root as above.
package java
