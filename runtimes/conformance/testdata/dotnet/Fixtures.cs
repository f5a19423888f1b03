// Conformance fixtures of the dotnet runtime (see the package's doc.go).
using System;
using System.Collections.Generic;
using System.Threading;
using Sluice.Runtime;

namespace Conformance
{
    /// <summary>The event bound to a class.</summary>
    public class EnvRequest
    {
        public string name { get; set; }
    }

    public class Fixtures
    {
        int count; // instance state: the class is made once per instance

        public static object Echo(object evt) { return evt; }

        public static object Http(string evt)
        {
            return new Dictionary<string, object> {
                { "statusCode", 201 },
                { "headers", new Dictionary<string, string> { { "X-Fixture", "yes" } } },
                { "body", "created" },
            };
        }

        public static object Fail(Dictionary<string, object> evt) { throw new InvalidOperationException("boom"); }

        public static object Crash(Dictionary<string, object> evt)
        {
            Console.Error.WriteLine("about to crash");
            Console.Error.Flush();
            Environment.Exit(3);
            return null;
        }

        public static object Hang(Dictionary<string, object> evt)
        {
            Thread.Sleep(Timeout.Infinite);
            return null;
        }

        public static object Flood(Dictionary<string, object> evt, ILambdaContext context)
        {
            int lines = Convert.ToInt32(evt["lines"]);
            for (int n = 0; n < lines; n++) Console.WriteLine("line " + n);
            Console.WriteLine(new string('x', Convert.ToInt32(evt["long"])));
            return new { printed = lines };
        }

        public static object Env(EnvRequest evt)
        {
            return new { value = Environment.GetEnvironmentVariable(evt.name) ?? "" };
        }

        public object Context(Dictionary<string, object> evt, ILambdaContext context)
        {
            context.Logger.LogLine("logged via context");
            return new Dictionary<string, object> {
                { "requestId", context.AwsRequestId },
                { "functionName", context.FunctionName },
                { "functionVersion", context.FunctionVersion },
                { "memoryLimitInMB", context.MemoryLimitInMB },
                { "remaining", (long)context.RemainingTime.TotalMilliseconds },
            };
        }

        public object Counter(Dictionary<string, object> evt)
        {
            count++;
            return new { count = count };
        }
    }
}
