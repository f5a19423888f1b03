using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using Sluice.Runtime;

namespace Prestart
{
    /// <summary>Functions the instance tests run on pre-started and started Mono processes.</summary>
    public static class Fn
    {
        static int calls; // per process: per function instance

        public static Dictionary<string, string> Env(object evt)
        {
            var m = new Dictionary<string, string>();
            foreach (DictionaryEntry kv in Environment.GetEnvironmentVariables()) m[(string)kv.Key] = (string)kv.Value;
            return m;
        }

        // GREETING as a process the function starts sees it: one started with an environment
        // of its own (explicit), and one started without touching it (inherited).
        public static Dictionary<string, string> ChildEnv(object evt)
        {
            var explicitly = Start();
            explicitly.EnvironmentVariables["CHILD"] = "1";
            return new Dictionary<string, string> { { "explicit", Run(explicitly) }, { "inherited", Run(Start()) } };
        }

        static ProcessStartInfo Start()
        {
            return new ProcessStartInfo("/bin/sh", "-c 'printf %s \"$GREETING\"'") { UseShellExecute = false, RedirectStandardOutput = true };
        }

        static string Run(ProcessStartInfo psi)
        {
            using (var p = Process.Start(psi))
            {
                var s = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return s;
            }
        }

        public static Dictionary<string, object> Ctx(object evt, ILambdaContext context)
        {
            return new Dictionary<string, object> {
                { "function_name", context.FunctionName },
                { "function_version", context.FunctionVersion },
                { "memory_limit_in_mb", context.MemoryLimitInMB.ToString() },
                { "invoked_function_arn", context.InvokedFunctionArn },
                { "aws_request_id", context.AwsRequestId },
            };
        }

        // Who serves the invocation: the process, the function's state, the time zone.
        public static Dictionary<string, object> Who(object evt, ILambdaContext context)
        {
            calls++;
            return new Dictionary<string, object> {
                { "pid", Process.GetCurrentProcess().Id },
                { "calls", calls },
                { "function", context.FunctionName },
                { "tz", TimeZoneInfo.Local.Id },
                { "cwd", Environment.CurrentDirectory },
            };
        }

        // Traces is what the pre-started process's rehearsal left: how far it got (its function's
        // calls, 2 when it ran to its end; -1 when its assembly was never loaded) and its folder.
        public static Dictionary<string, object> Traces(object evt)
        {
            var calls = -1;
            foreach (var a in AppDomain.CurrentDomain.GetAssemblies())
            {
                var t = a.GetType("Sluice.Rehearsal.Fn", false);
                if (t != null) calls = (int)t.GetField("Calls").GetValue(null);
            }
            var pid = Process.GetCurrentProcess().Id;
            var tmp = Environment.GetEnvironmentVariable("TMPDIR") ?? "/tmp";
            return new Dictionary<string, object> {
                { "calls", calls },
                { "folders", System.IO.Directory.GetDirectories(tmp, ".sluice-rehearsal-" + pid) },
                { "pid", pid },
            };
        }

        public static Dictionary<string, string> Hello(object evt)
        {
            return new Dictionary<string, string> { { "hello", "world" } };
        }
    }
}
