// sluice C# bootstrap: runs a handler behind the AWS Lambda Runtime API, on Mono, with the
// framework's own libraries only (System.Web.Extensions for JSON).
//
// Start: mono bootstrap.exe, with AWS_LAMBDA_RUNTIME_API, _HANDLER (Namespace.Class::Method) and
// LAMBDA_TASK_ROOT set. The function's assemblies are the *.dll files of the task root; the
// handler's is loaded last, just before the invocation loop. Without _HANDLER the process is a
// pre-started one: it warms up (Warm), then waits on GET /sluice/specialize for its function's
// handler, environment and task root.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using System.Web.Script.Serialization;

namespace Sluice.Runtime
{
    public static class Bootstrap
    {
        internal const string Prefix = "/2018-06-01/runtime";

        public static int Main()
        {
            var client = new Client(Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API") ?? "");
            var spec = Environment.GetEnvironmentVariable("_HANDLER");
            var root = TaskRoot();
            if (spec == null)
            {
                try
                {
                    Warm.Up(root);
                    var sp = Specialize(client);
                    spec = sp.TryGetValue("handler", out var h) ? h as string ?? "" : "";
                    if (sp.TryGetValue("taskRoot", out var r) && r is string rs && rs.Length > 0) root = rs;
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine("[ERROR] Runtime.Bootstrap: specialisation failed: " + e);
                    return 1;
                }
            }
            Handler handler;
            try
            {
                handler = Handler.Load(spec, root);
            }
            catch (LoadError e)
            {
                var record = Record(e.InnerException ?? e, e.Type);
                record["errorMessage"] = e.Message;
                Report(record);
                try { client.Call("POST", "/init/error", Encoding.UTF8.GetBytes(Json.Serialize(record)), ErrorHeaders(record)); }
                catch (Exception) { }
                return 1;
            }
            try
            {
                var next = client.Next(handler.Compile);
                for (;;)
                {
                    next = client.AnswerThenNext(Invoke(handler, next));
                }
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("[ERROR] Runtime.Bootstrap: " + e);
                return 1;
            }
        }

        // Specialize waits on GET /sluice/specialize until a function is assigned, then takes on
        // the environment it is given (the process's own, which the processes the function starts
        // inherit), its task root as the working directory and its time zone; it returns the
        // specialisation (handler, taskRoot, ...).
        internal static Dictionary<string, object> Specialize(Client client)
        {
            var a = client.Call("GET", "/sluice/specialize", null, null);
            if (a.Status != 200) throw new IOException("runtime api /sluice/specialize answered " + a.Status + ": " + Encoding.UTF8.GetString(a.Body));
            var sp = Json.DeserializeObject(Encoding.UTF8.GetString(a.Body)) as Dictionary<string, object>;
            if (sp == null) throw new IOException("runtime api /sluice/specialize sent no object");
            var env = new Dictionary<string, string>();
            if (sp.TryGetValue("env", out var e) && e is Dictionary<string, object> given)
                foreach (var kv in given) env[kv.Key] = Convert.ToString(kv.Value);
            foreach (var k in Environment.GetEnvironmentVariables().Keys.Cast<string>().ToArray())
                if (!env.ContainsKey(k)) Environment.SetEnvironmentVariable(k, null);
            foreach (var kv in env) Environment.SetEnvironmentVariable(kv.Key, kv.Value);
            if (sp.TryGetValue("taskRoot", out var r) && r is string root && root.Length > 0) Directory.SetCurrentDirectory(root);
            TimeZoneInfo.ClearCachedData();
            return sp;
        }

        internal static readonly JavaScriptSerializer Json = new JavaScriptSerializer { MaxJsonLength = int.MaxValue, RecursionLimit = 512 };

        static string TaskRoot()
        {
            var root = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT");
            return string.IsNullOrEmpty(root) ? Directory.GetCurrentDirectory() : root;
        }

        internal static Client.Request Invoke(Handler handler, Client.Answer inv)
        {
            var id = inv.Header("lambda-runtime-aws-request-id");
            byte[] body;
            try
            {
                body = handler.Call(inv.Body, new Context(id, inv));
            }
            catch (Exception e)
            {
                if (e is TargetInvocationException && e.InnerException != null) e = e.InnerException;
                var record = Record(e, e is MarshalError ? "Runtime.MarshalError" : null);
                Report(record);
                Flush();
                return new Client.Request("POST", "/invocation/" + id + "/error", Encoding.UTF8.GetBytes(Json.Serialize(record)), ErrorHeaders(record));
            }
            Flush();
            return new Client.Request("POST", "/invocation/" + id + "/response", body,
                new Dictionary<string, string> { { "Content-Type", "application/json" } });
        }

        static void Flush()
        {
            Console.Out.Flush();
            Console.Error.Flush();
        }

        static Dictionary<string, string> ErrorHeaders(Dictionary<string, object> record)
        {
            return new Dictionary<string, string> {
                { "Content-Type", "application/json" },
                { "Lambda-Runtime-Function-Error-Type", (string)record["errorType"] },
            };
        }

        internal static Dictionary<string, object> Record(Exception e, string type)
        {
            var trace = (e.StackTrace ?? "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.Contains("System.Reflection.") && !l.Contains("Sluice.Runtime.")).ToArray();
            return new Dictionary<string, object> {
                { "errorType", type ?? e.GetType().Name },
                { "errorMessage", e.Message ?? "" },
                { "stackTrace", trace },
            };
        }

        internal static void Report(Dictionary<string, object> record)
        {
            var b = new StringBuilder();
            b.Append("[ERROR] ").Append(record["errorType"]).Append(": ").Append(record["errorMessage"]).Append('\n');
            foreach (var line in (string[])record["stackTrace"]) b.Append("    ").Append(line).Append('\n');
            Console.Error.Write(b.ToString());
            Console.Error.Flush();
        }
    }

    /// <summary>A handler that cannot be loaded: its Lambda error type and why.</summary>
    class LoadError : Exception
    {
        public readonly string Type;
        public LoadError(string type, string message, Exception inner = null) : base(message, inner) { Type = type; }
    }

    /// <summary>A result that cannot be written as JSON.</summary>
    class MarshalError : Exception
    {
        public MarshalError(string message, Exception inner) : base(message, inner) { }
    }

    /// <summary>A resolved handler method.</summary>
    class Handler
    {
        readonly MethodInfo method;
        readonly object target;
        readonly Type eventType; // null when the method takes no event
        readonly bool withContext;
        Func<object, object[], object> direct; // the handler called without reflection, once Compile made it
        Type[] types;                          // the handler's parameters' types, with direct

        Handler(MethodInfo method, object target, Type eventType, bool withContext)
        {
            this.method = method; this.target = target; this.eventType = eventType; this.withContext = withContext;
        }

        static string resolveRoot; // the task root the AssemblyResolve handler looks in

        public static Handler Load(string spec, string root)
        {
            var sep = spec.IndexOf("::", StringComparison.Ordinal);
            if (sep <= 0 || sep + 2 >= spec.Length)
                throw new LoadError("Runtime.MalformedHandlerName", "bad handler \"" + spec + "\": use Namespace.Class::Method");
            var typeName = spec.Substring(0, sep);
            var methodName = spec.Substring(sep + 2);
            var self = typeof(Handler).Assembly;
            if (resolveRoot == null)
            {
                AppDomain.CurrentDomain.AssemblyResolve += (s, a) =>
                {
                    var name = new AssemblyName(a.Name).Name;
                    if (name == self.GetName().Name) return self;
                    var path = Path.Combine(resolveRoot, name + ".dll");
                    return File.Exists(path) ? Assembly.LoadFrom(path) : null;
                };
            }
            resolveRoot = root;
            Type type = null;
            var dlls = Files(root, "*.dll");
            foreach (var dll in dlls)
            {
                Assembly asm;
                try { asm = Assembly.LoadFrom(dll); }
                catch (BadImageFormatException) { continue; }
                catch (Exception e) { throw new LoadError("Runtime.AssemblyLoadError", "cannot load " + Path.GetFileName(dll) + ": " + e.Message, e); }
                type = asm.GetType(typeName, false);
                if (type != null) break;
            }
            if (type == null)
                throw new LoadError("Runtime.TypeNotFound", "type " + typeName + " is not in the task root's assemblies (" + string.Join(", ", dlls.Select(Path.GetFileName)) + ")");
            return For(type, methodName);
        }

        // Files lists the files of dir matching pattern, sorted by ordinal; none when dir does not exist.
        internal static string[] Files(string dir, string pattern)
        {
            if (!Directory.Exists(dir)) return new string[0];
            var files = Directory.GetFiles(dir, pattern);
            Array.Sort(files, StringComparer.Ordinal);
            return files;
        }

        // For resolves the handler methodName of type.
        internal static Handler For(Type type, string methodName)
        {
            var typeName = type.FullName;
            MethodInfo best = null;
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance))
            {
                if (m.Name != methodName) continue;
                var ps = m.GetParameters();
                if (ps.Length > 2 || (ps.Length == 2 && !ps[1].ParameterType.IsAssignableFrom(typeof(Context)))) continue;
                if (best == null || ps.Length > best.GetParameters().Length) best = m;
            }
            if (best == null)
                throw new LoadError("Runtime.HandlerNotFound", "no method " + methodName + " on " + typeName + " taking (event) or (event, ILambdaContext)");
            object target = null;
            if (!best.IsStatic)
            {
                try { target = Activator.CreateInstance(type, true); }
                catch (TargetInvocationException e) { throw new LoadError("Runtime.HandlerConstructor", "constructing " + typeName + " failed: " + e.InnerException.Message, e.InnerException); }
                catch (Exception e) { throw new LoadError("Runtime.HandlerConstructor", typeName + " needs a constructor without parameters for the instance method " + methodName + ": " + e.Message, e); }
            }
            var parameters = best.GetParameters();
            return new Handler(best, target, parameters.Length > 0 ? parameters[0].ParameterType : null, parameters.Length == 2);
        }

        /// <summary>
        /// Compile has Mono compile the handler without running it (a method's function pointer is
        /// its compiled code) and a caller of it (Caller), so that the bootstrap's first /next
        /// travels meanwhile. Without a caller the handler is called through reflection, whose
        /// wrapper Mono makes on the first call of each assembly.
        /// </summary>
        public void Compile()
        {
            try
            {
                var code = method.MethodHandle.GetFunctionPointer();
                types = method.GetParameters().Select(p => p.ParameterType).ToArray();
                direct = Caller(method, code, types);
            }
            catch (Exception) { }
        }

        /// <summary>
        /// Caller makes a method that calls m's compiled code with its arguments cast from object
        /// and its result boxed, or returns null for a method it does not call so (generic, of a
        /// struct, by-reference parameters). The call is indirect, so that Mono does not inline
        /// the handler into it and an error's stack trace still names the handler; the caller's
        /// own frame is named Sluice.Runtime.Call, which traces leave out as they do reflection's.
        /// </summary>
        static Func<object, object[], object> Caller(MethodInfo m, IntPtr code, Type[] types)
        {
            if (m.ContainsGenericParameters || m.DeclaringType.IsValueType || types.Any(t => t.IsByRef || t.IsPointer)) return null;
            var dm = new DynamicMethod("Sluice.Runtime.Call", typeof(object), new[] { typeof(object), typeof(object[]) }, typeof(Handler).Module, true);
            var il = dm.GetILGenerator();
            if (!m.IsStatic)
            {
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Castclass, m.DeclaringType);
            }
            for (int i = 0; i < types.Length; i++)
            {
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldc_I4, i);
                il.Emit(OpCodes.Ldelem_Ref);
                il.Emit(types[i].IsValueType ? OpCodes.Unbox_Any : OpCodes.Castclass, types[i]);
            }
            il.Emit(OpCodes.Ldc_I8, code.ToInt64());
            il.Emit(OpCodes.Conv_I);
            il.EmitCalli(OpCodes.Calli, m.IsStatic ? CallingConventions.Standard : CallingConventions.HasThis, m.ReturnType, types, null);
            if (m.ReturnType == typeof(void)) il.Emit(OpCodes.Ldnull);
            else if (m.ReturnType.IsValueType) il.Emit(OpCodes.Box, m.ReturnType);
            il.Emit(OpCodes.Ret);
            return (Func<object, object[], object>)dm.CreateDelegate(typeof(Func<object, object[], object>));
        }

        public byte[] Call(byte[] payload, Context ctx)
        {
            var args = new List<object>();
            if (eventType != null) args.Add(Event(payload));
            if (withContext) args.Add(ctx);
            var a = args.ToArray();
            var result = direct != null && Castable(a) ? direct(target, a) : method.Invoke(target, a);
            if (method.ReturnType == typeof(void)) result = null;
            else if (result is System.Threading.Tasks.Task task)
            {
                task.GetAwaiter().GetResult();
                var p = task.GetType().GetProperty("Result");
                result = p != null && task.GetType().IsGenericType ? p.GetValue(task) : null;
            }
            if (result is Stream stream)
            {
                var ms = new MemoryStream();
                stream.CopyTo(ms);
                return ms.ToArray();
            }
            try
            {
                return Encoding.UTF8.GetBytes(Bootstrap.Json.Serialize(result));
            }
            catch (Exception e)
            {
                throw new MarshalError("unable to marshal response: " + e.Message, e);
            }
        }

        // Castable reports whether the caller takes args as they are: reflection passes a null
        // for a value-type parameter as its default, which a cast cannot.
        bool Castable(object[] args)
        {
            for (int i = 0; i < args.Length; i++)
                if (args[i] == null && types[i].IsValueType) return false;
            return true;
        }

        object Event(byte[] payload)
        {
            var text = Encoding.UTF8.GetString(payload);
            if (eventType == typeof(Stream)) return new MemoryStream(payload);
            object parsed;
            try { parsed = text.Length == 0 ? new Dictionary<string, object>() : Bootstrap.Json.DeserializeObject(text); }
            catch (ArgumentException) { parsed = text; }
            catch (InvalidOperationException) { parsed = text; }
            if (eventType == typeof(string)) return parsed as string ?? text;
            if (eventType == typeof(object) || parsed == null || eventType.IsInstanceOfType(parsed)) return parsed;
            return Bootstrap.Json.ConvertToType(parsed, eventType);
        }
    }

    /// <summary>The context of one invocation.</summary>
    public sealed class Context : ILambdaContext
    {
        readonly long deadline;
        readonly Dictionary<string, string> cloudEvent = new Dictionary<string, string>();

        internal Context(string id, Client.Answer inv)
        {
            AwsRequestId = id;
            long.TryParse(inv.Header("lambda-runtime-deadline-ms"), out deadline);
            InvokedFunctionArn = inv.Header("lambda-runtime-invoked-function-arn");
            TraceId = inv.Header("lambda-runtime-trace-id");
            try
            {
                if (Bootstrap.Json.DeserializeObject(inv.Header("sluice-event-attributes")) is Dictionary<string, object> ce)
                    foreach (var kv in ce) cloudEvent[kv.Key] = Convert.ToString(kv.Value);
            }
            catch (Exception) { }
        }

        static string Env(string k) { return Environment.GetEnvironmentVariable(k) ?? ""; }

        public string AwsRequestId { get; private set; }
        public string InvokedFunctionArn { get; private set; }
        public string TraceId { get; private set; }
        public string FunctionName { get { return Env("AWS_LAMBDA_FUNCTION_NAME"); } }
        public string FunctionVersion { get { return Env("AWS_LAMBDA_FUNCTION_VERSION"); } }
        public string LogGroupName { get { return Env("AWS_LAMBDA_LOG_GROUP_NAME"); } }
        public string LogStreamName { get { return Env("AWS_LAMBDA_LOG_STREAM_NAME"); } }
        public int MemoryLimitInMB { get { int.TryParse(Env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), out var m); return m; } }
        public IDictionary<string, string> CloudEvent { get { return cloudEvent; } }
        public ILambdaLogger Logger { get { return ConsoleLogger.Instance; } }

        public TimeSpan RemainingTime
        {
            get { return TimeSpan.FromMilliseconds(Math.Max(0, deadline - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())); }
        }
    }

    sealed class ConsoleLogger : ILambdaLogger
    {
        public static readonly ConsoleLogger Instance = new ConsoleLogger();
        public void Log(string message) { Console.Out.Write(message); Console.Out.Flush(); }
        public void LogLine(string message) { Console.Out.WriteLine(message); Console.Out.Flush(); }
    }

    /// <summary>One kept-alive HTTP/1.1 connection to the Runtime API.</summary>
    sealed class Client
    {
        readonly string address;
        TcpClient tcp;
        BufferedStream stream;

        public Client(string address)
        {
            if (address.Length == 0) throw new InvalidOperationException("AWS_LAMBDA_RUNTIME_API is not set");
            this.address = address;
        }

        /// <summary>A client on conn, an open connection (the warm-up's script).</summary>
        internal Client(string address, Stream conn)
        {
            this.address = address;
            stream = new BufferedStream(conn, 65536);
        }

        public sealed class Request
        {
            public readonly string Method, Path;
            public readonly byte[] Body;
            public readonly IDictionary<string, string> Headers;
            public Request(string method, string path, byte[] body, IDictionary<string, string> headers)
            {
                Method = method; Path = path; Body = body ?? new byte[0]; Headers = headers;
            }
        }

        public sealed class Answer
        {
            public int Status;
            public Dictionary<string, string> Headers = new Dictionary<string, string>();
            public byte[] Body;
            public string Header(string name) { return Headers.TryGetValue(name, out var v) ? v : ""; }
        }

        void Connect()
        {
            var colon = address.LastIndexOf(':');
            var host = address.Substring(0, colon).Trim('[', ']');
            tcp = new TcpClient(host, int.Parse(address.Substring(colon + 1))) { NoDelay = true };
            stream = new BufferedStream(tcp.GetStream(), 65536);
        }

        void Close()
        {
            if (tcp != null) { try { tcp.Close(); } catch (Exception) { } }
            tcp = null;
            stream = null;
        }

        void Send(params Request[] requests)
        {
            if (stream == null) Connect();
            var ms = new MemoryStream();
            foreach (var r in requests)
            {
                var head = new StringBuilder();
                head.Append(r.Method).Append(' ').Append(Bootstrap.Prefix).Append(r.Path).Append(" HTTP/1.1\r\nHost: ").Append(address)
                    .Append("\r\nContent-Length: ").Append(r.Body.Length).Append("\r\n");
                if (r.Headers != null)
                    foreach (var kv in r.Headers) head.Append(kv.Key).Append(": ").Append(kv.Value.Replace('\r', ' ').Replace('\n', ' ')).Append("\r\n");
                head.Append("\r\n");
                var h = Encoding.ASCII.GetBytes(head.ToString());
                ms.Write(h, 0, h.Length);
                ms.Write(r.Body, 0, r.Body.Length);
            }
            try
            {
                ms.WriteTo(stream);
                stream.Flush();
            }
            catch (IOException) { Close(); throw; }
        }

        string Line()
        {
            var b = new List<byte>();
            for (;;)
            {
                int c = stream.ReadByte();
                if (c < 0)
                {
                    if (b.Count == 0) throw new IOException("runtime api closed the connection");
                    break;
                }
                if (c == '\n') break;
                b.Add((byte)c);
            }
            var s = Encoding.GetEncoding("ISO-8859-1").GetString(b.ToArray());
            return s.EndsWith("\r") ? s.Substring(0, s.Length - 1) : s;
        }

        byte[] ReadN(int n)
        {
            var buf = new byte[n];
            for (int off = 0; off < n;)
            {
                int got = stream.Read(buf, off, n - off);
                if (got <= 0) { Close(); throw new IOException("runtime api closed the connection mid-body"); }
                off += got;
            }
            return buf;
        }

        Answer Read()
        {
            var status = Line().Split(new[] { ' ' }, 3);
            if (status.Length < 2 || !status[0].StartsWith("HTTP/")) throw new IOException("runtime api sent a malformed status line");
            var a = new Answer { Status = int.Parse(status[1]) };
            for (var l = Line(); l.Length > 0; l = Line())
            {
                var colon = l.IndexOf(':');
                if (colon > 0) a.Headers[l.Substring(0, colon).Trim().ToLowerInvariant()] = l.Substring(colon + 1).Trim();
            }
            if (a.Header("transfer-encoding").ToLowerInvariant().Contains("chunked"))
            {
                var body = new MemoryStream();
                for (int size; (size = Convert.ToInt32(Line().Split(';')[0].Trim(), 16)) > 0;)
                {
                    var chunk = ReadN(size);
                    body.Write(chunk, 0, chunk.Length);
                    Line();
                }
                while (Line().Length > 0) { }
                a.Body = body.ToArray();
            }
            else
            {
                int.TryParse(a.Header("content-length"), out var n);
                a.Body = ReadN(n);
            }
            if (a.Header("connection").Equals("close", StringComparison.OrdinalIgnoreCase)) Close();
            return a;
        }

        public Answer Call(string method, string path, byte[] body, IDictionary<string, string> headers)
        {
            Send(new Request(method, path, body, headers));
            return Read();
        }

        public Answer Next() { return Next(null); }

        /// <summary>Asks for the next invocation and runs meanwhile, if given, while the answer is on its way.</summary>
        public Answer Next(Action meanwhile)
        {
            Send(new Request("GET", "/invocation/next", null, null));
            if (meanwhile != null) meanwhile();
            var a = Read();
            if (a.Status != 200) throw new IOException("runtime api /next answered " + a.Status + ": " + Encoding.UTF8.GetString(a.Body));
            return a;
        }

        /// <summary>Posts an answer and asks for the next invocation in one write (HTTP/1.1 pipelining).</summary>
        public Answer AnswerThenNext(Request answer)
        {
            Send(answer, new Request("GET", "/invocation/next", null, null));
            var posted = Read();
            if (posted.Status >= 300)
                Console.Error.WriteLine("[ERROR] runtime api refused the answer: " + posted.Status + " " + Encoding.UTF8.GetString(posted.Body));
            if (stream == null) return Next();
            var a = Read();
            if (a.Status != 200) throw new IOException("runtime api /next answered " + a.Status + ": " + Encoding.UTF8.GetString(a.Body));
            return a;
        }
    }
}
