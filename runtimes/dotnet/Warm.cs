// What a pre-started Mono process does before a function is assigned to it.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace Sluice.Runtime
{
    /// <summary>
    /// Runs the paths a specialisation takes (a handler resolved and invoked, events bound and
    /// answers written as JSON, the time zone data read) on types of the bootstrap's own, then
    /// rehearses a whole specialisation (Rehearse), so that Mono has compiled the methods they
    /// need and the function's first invocation pays for its own code only.
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
            try { Bootstrap.Record(new InvalidOperationException("warm"), null); }
            catch (Exception) { }
            try { Handler.Load("Sluice.Runtime.NoSuchType::Handle", root); }
            catch (Exception) { }
            try
            {
                TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
            }
            catch (Exception) { }
            Rehearse();
        }

        /// <summary>
        /// Rehearse takes on a function as a specialisation does, on a connection played from
        /// canned answers: the specialisation (with the process's own environment and working
        /// directory, so nothing changes), the rehearsal assembly loaded from a folder of its own,
        /// and two turns of the invocation loop. Then it removes the folder; the assembly stays
        /// loaded, as the bootstrap's own does. Failures only lose the saving.
        /// </summary>
        static void Rehearse()
        {
            var dir = Path.Combine(Path.GetTempPath(), ".sluice-rehearsal-" + Process.GetCurrentProcess().Id);
            try
            {
                Directory.CreateDirectory(dir);
                var self = typeof(Warm).Assembly;
                using (var res = self.GetManifestResourceStream(RehearsalAssembly))
                using (var f = File.Create(Path.Combine(dir, RehearsalAssembly)))
                    res.CopyTo(f);
                var env = new Dictionary<string, string>();
                foreach (DictionaryEntry kv in Environment.GetEnvironmentVariables()) env[(string)kv.Key] = (string)kv.Value;
                var spec = Bootstrap.Json.Serialize(new Dictionary<string, object> {
                    { "handler", "Sluice.Rehearsal.Fn::Handle" },
                    { "taskRoot", Directory.GetCurrentDirectory() },
                    { "env", env },
                });
                var client = new Client("rehearsal", new Script(Answer("Content-Type: application/json", spec), Invocation(),
                    "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", Invocation()));
                var sp = Bootstrap.Specialize(client);
                var h = Handler.Load((string)sp["handler"], dir);
                var next = client.AnswerThenNext(Bootstrap.Invoke(h, client.Next(h.Compile)));
                Bootstrap.Invoke(h, next);
            }
            catch (Exception) { }
            finally
            {
                try { Directory.Delete(dir, true); }
                catch (Exception) { }
            }
        }

        const string RehearsalAssembly = "Sluice.Rehearsal.dll";

        static string Answer(string headers, string body)
        {
            return "HTTP/1.1 200 OK\r\n" + headers + "\r\nContent-Length: " + Encoding.UTF8.GetByteCount(body) + "\r\n\r\n" + body;
        }

        static string Invocation()
        {
            return Answer("Lambda-Runtime-Aws-Request-Id: rehearsal\r\nLambda-Runtime-Deadline-Ms: " + (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 60000) +
                "\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:local:000000000000:function:rehearsal\r\nLambda-Runtime-Trace-Id: rehearsal" +
                "\r\nSluice-Event-Attributes: {\"id\":\"rehearsal\",\"type\":\"dev.sluice.invoke\"}", "{\"rehearsal\":true}");
        }

        /// <summary>
        /// A Runtime API connection played from canned answers, one answer per read as a server's
        /// would arrive (a BufferedStream refuses to write while it holds unread bytes); what is
        /// written to it is dropped.
        /// </summary>
        sealed class Script : Stream
        {
            readonly Queue<byte[]> answers = new Queue<byte[]>();
            byte[] current = new byte[0];
            int at;

            public Script(params string[] answers)
            {
                foreach (var a in answers) this.answers.Enqueue(Encoding.UTF8.GetBytes(a));
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                if (at == current.Length)
                {
                    if (answers.Count == 0) return 0;
                    current = answers.Dequeue();
                    at = 0;
                }
                var n = Math.Min(count, current.Length - at);
                Array.Copy(current, at, buffer, offset, n);
                at += n;
                return n;
            }

            public override void Write(byte[] buffer, int offset, int count) { }
            public override void Flush() { }
            public override bool CanRead { get { return true; } }
            public override bool CanWrite { get { return true; } }
            public override bool CanSeek { get { return false; } }
            public override long Length { get { throw new NotSupportedException(); } }
            public override long Position { get { throw new NotSupportedException(); } set { throw new NotSupportedException(); } }
            public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
            public override void SetLength(long value) { throw new NotSupportedException(); }
        }
    }
}
