// What a pre-started Mono process does before a function is assigned to it.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

namespace Sluice.Runtime
{
    /// <summary>
    /// Runs the paths a specialisation takes (a handler resolved and invoked, events bound and
    /// answers written as JSON, the task root searched for assemblies, the time zone data read) on
    /// types of the bootstrap's own, so that Mono has compiled the methods they need and the
    /// function's first invocation pays for its own code only.
    /// </summary>
    internal static class Warm
    {
        public class Greeting
        {
            public string Name { get; set; }
            public double Weight { get; set; }
            public bool Ok { get; set; }
        }

        public static Dictionary<string, object> Handle(Dictionary<string, object> evt, ILambdaContext context)
        {
            var m = new Dictionary<string, object>(evt);
            m["request"] = context.AwsRequestId;
            m["function"] = context.FunctionName;
            m["remaining"] = context.RemainingTime.TotalMilliseconds;
            m["memory"] = context.MemoryLimitInMB;
            return m;
        }

        public static Greeting Typed(Greeting g) { return g; }

        public static string Text(string s) { return s; }

        public static object Any(object o, ILambdaContext context) { return o; }

        public static Dictionary<string, string> Strings(object o) { return new Dictionary<string, string> { { "k", "v" } }; }


        /// <summary>Runs the warm-up; root is the task root, still empty. Failures only lose the saving.</summary>
        internal static void Up(string root)
        {
            var calls = new[] {
                new[] { "Handle", "{\"a\":[1,2.5,\"x\",true,null,{\"b\":-3e2}],\"s\":\"\\u00e9\\n\"}" },
                new[] { "Typed", "{\"Name\":\"n\",\"Weight\":1.5,\"Ok\":true}" },
                new[] { "Text", "\"hello\"" },
                new[] { "Any", "{\"k\":\"v\"}" },
                new[] { "Strings", "{}" },
            };
            foreach (var c in calls)
            {
                try
                {
                    var h = Handler.For(typeof(Warm), c[0]);
                    var inv = new Client.Answer { Status = 200, Body = Encoding.UTF8.GetBytes(c[1]) };
                    inv.Headers["lambda-runtime-aws-request-id"] = "warm";
                    inv.Headers["lambda-runtime-deadline-ms"] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 60000).ToString();
                    inv.Headers["sluice-event-attributes"] = "{\"id\":\"warm\",\"type\":\"dev.sluice.invoke\"}";
                    Bootstrap.Invoke(h, inv);
                }
                catch (Exception) { }
            }
            try
            {
                var body = "{\"handler\":\"A.B::C\",\"env\":{\"K\":\"V\"}}";
                var raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + Encoding.UTF8.GetByteCount(body) + "\r\n\r\n" + body +
                    "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" +
                    "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: warm\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}";
                foreach (var a in Client.Parse(Encoding.UTF8.GetBytes(raw), 3)) a.Header("lambda-runtime-aws-request-id");
            }
            catch (Exception) { }
            try { Bootstrap.Record(new InvalidOperationException("warm"), null); }
            catch (Exception) { }
            try { Handler.Load("Sluice.Runtime.NoSuchType::Handle", root); }
            catch (Exception) { }
            try { Handler.Files(Path.GetDirectoryName(typeof(Warm).Assembly.Location), "*.exe"); }
            catch (Exception) { }
            try
            {
                Assembly.LoadFrom(typeof(Warm).Assembly.Location);
                TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
                TimeZoneInfo.ClearCachedData();
                foreach (var k in Environment.GetEnvironmentVariables().Keys.Cast<string>().ToArray()) Environment.GetEnvironmentVariable(k);
                Environment.SetEnvironmentVariable("SLUICE_WARM", "1");
                Environment.SetEnvironmentVariable("SLUICE_WARM", null);
                Directory.SetCurrentDirectory(Directory.GetCurrentDirectory());
            }
            catch (Exception) { }
        }
    }
}
