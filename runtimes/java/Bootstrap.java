package dev.sluice.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.lang.reflect.Type;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * sluice Java bootstrap: runs a handler behind the AWS Lambda Runtime API. JDK only.
 *
 * <p>Start: java -cp bootstrap.jar dev.sluice.runtime.Bootstrap, with AWS_LAMBDA_RUNTIME_API,
 * _HANDLER (pkg.Class::method, or pkg.Class for its handleRequest) and LAMBDA_TASK_ROOT set. The
 * function's classes are loaded from the task root: its folder of classes, its *.jar files and
 * those of its lib/ folder. The handler's class is loaded last, just before the invocation loop.
 * Without _HANDLER the process is a pre-started one: it warms up (Warm), then waits on GET
 * /sluice/specialize for its function's handler, environment and task root.
 */
public final class Bootstrap {
    static final String PREFIX = "/2018-06-01/runtime";

    public static void main(String[] args) {
        Client client = new Client(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        String spec = System.getenv("_HANDLER");
        String root = taskRoot();
        if (spec == null) {
            try {
                Warm.up(root);
                Map<?, ?> sp = specialize(client);
                spec = sp.get("handler") instanceof String ? (String) sp.get("handler") : "";
                if (sp.get("taskRoot") instanceof String && !((String) sp.get("taskRoot")).isEmpty()) {
                    root = (String) sp.get("taskRoot");
                }
            } catch (IOException | RuntimeException | ReflectiveOperationException e) {
                System.err.println("[ERROR] Runtime.Bootstrap: specialisation failed: " + e);
                System.exit(1);
                return;
            }
        }
        Handler handler;
        try {
            handler = Handler.load(spec, root);
        } catch (LoadError e) {
            Map<String, Object> record = record(e.getCause() != null ? e.getCause() : e, e.type);
            record.put("errorMessage", e.getMessage());
            report(record);
            try {
                client.call("POST", "/init/error", Json.write(record).getBytes(StandardCharsets.UTF_8), errorHeaders(record));
            } catch (IOException ignored) {
                // the process ends anyway
            }
            System.exit(1);
            return;
        }
        try {
            Client.Answer next = client.next();
            for (;;) {
                next = client.answerThenNext(invoke(handler, next));
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("[ERROR] Runtime.Bootstrap: " + e);
            System.exit(1);
        }
    }

    /**
     * Waits on GET /sluice/specialize until a function is assigned, then takes on the environment
     * it is given (System.getenv and the processes the function starts see it) and its time zone;
     * returns the specialisation (handler, taskRoot, ...). The working directory is the task root
     * already: the process was started in it.
     */
    static Map<?, ?> specialize(Client client) throws IOException, ReflectiveOperationException {
        Client.Answer a = client.call("GET", "/sluice/specialize", null, null);
        if (a.status != 200) {
            throw new IOException("runtime api /sluice/specialize answered " + a.status + ": " + new String(a.body, StandardCharsets.UTF_8));
        }
        Object v = Json.parse(new String(a.body, StandardCharsets.UTF_8));
        if (!(v instanceof Map)) {
            throw new IOException("runtime api /sluice/specialize sent no object");
        }
        Map<?, ?> sp = (Map<?, ?>) v;
        Map<String, String> env = new HashMap<>();
        if (sp.get("env") instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) sp.get("env")).entrySet()) {
                env.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
            }
        }
        Environment.replace(env);
        String tz = env.get("TZ");
        java.util.TimeZone.setDefault(tz == null || tz.isEmpty() ? null : java.util.TimeZone.getTimeZone(tz.startsWith(":") ? tz.substring(1) : tz));
        return sp;
    }

    static String taskRoot() {
        String root = System.getenv("LAMBDA_TASK_ROOT");
        return root == null || root.isEmpty() ? System.getProperty("user.dir") : root;
    }

    /** Runs the handler on one invocation and returns the request to post. */
    static Client.Request invoke(Handler handler, Client.Answer inv) {
        String id = inv.header("lambda-runtime-aws-request-id");
        byte[] out;
        try {
            out = handler.call(inv.body, new Invocation(id, inv));
        } catch (Throwable t) {
            Map<String, Object> record = record(t, t instanceof MarshalError ? "Runtime.MarshalError" : null);
            report(record);
            flush();
            return new Client.Request("POST", "/invocation/" + id + "/error",
                    Json.write(record).getBytes(StandardCharsets.UTF_8), errorHeaders(record));
        }
        flush();
        return new Client.Request("POST", "/invocation/" + id + "/response", out, Map.of("Content-Type", "application/json"));
    }

    /** Flushes what the function printed, so its lines arrive before its answer. */
    static void flush() {
        System.out.flush();
        System.err.flush();
    }

    static Map<String, String> errorHeaders(Map<String, Object> record) {
        return Map.of("Content-Type", "application/json", "Lambda-Runtime-Function-Error-Type", (String) record.get("errorType"));
    }

    /** The Runtime API's error record of t. */
    static Map<String, Object> record(Throwable t, String type) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("errorType", type != null ? type : t.getClass().getName());
        m.put("errorMessage", t.getMessage() == null ? "" : t.getMessage());
        List<String> trace = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith("dev.sluice.runtime.") || e.getClassName().startsWith("jdk.internal.reflect.")
                    || e.getClassName().startsWith("java.lang.reflect.Method")) {
                continue;
            }
            trace.add(e.toString());
        }
        m.put("stackTrace", trace);
        return m;
    }

    static void report(Map<String, Object> record) {
        StringBuilder b = new StringBuilder("[ERROR] ").append(record.get("errorType")).append(": ").append(record.get("errorMessage")).append('\n');
        for (Object line : (List<?>) record.get("stackTrace")) {
            b.append("    at ").append(line).append('\n');
        }
        System.err.print(b);
        System.err.flush();
    }

    /** A handler that cannot be loaded: its Lambda error type and why. */
    static final class LoadError extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;

        LoadError(String type, String message, Throwable cause) {
            super(message, cause);
            this.type = type;
        }
    }

    /** A resolved handler method and how to fill its parameters. */
    static final class Handler {
        enum Kind { EVENT, CONTEXT, INPUT, OUTPUT }

        final Method method;
        final Object target; // null for a static method
        final Kind[] kinds;
        final Type eventType;

        private Handler(Method method, Object target, Kind[] kinds, Type eventType) {
            this.method = method;
            this.target = target;
            this.kinds = kinds;
            this.eventType = eventType;
        }

        static Handler load(String spec, String root) throws LoadError {
            if (spec == null || spec.isEmpty()) {
                throw new LoadError("Runtime.MalformedHandlerName", "no handler: use pkg.Class::method", null);
            }
            int sep = spec.indexOf("::");
            String className = sep < 0 ? spec : spec.substring(0, sep);
            String methodName = sep < 0 ? "handleRequest" : spec.substring(sep + 2);
            if (className.isEmpty() || methodName.isEmpty()) {
                throw new LoadError("Runtime.MalformedHandlerName", "bad handler \"" + spec + "\": use pkg.Class::method", null);
            }
            ClassLoader loader = new URLClassLoader(classPath(root), Bootstrap.class.getClassLoader());
            Thread.currentThread().setContextClassLoader(loader);
            Class<?> c;
            try {
                c = Class.forName(className, true, loader);
            } catch (ClassNotFoundException e) {
                throw new LoadError("Runtime.ClassNotFound", "class " + className + " is not in the task root's classes or jars", e);
            } catch (ExceptionInInitializerError e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                throw new LoadError("Runtime.ExceptionInInitializer", "class " + className + " failed to initialise: " + cause, cause);
            } catch (LinkageError e) {
                throw new LoadError("Runtime.ClassLoadError", "class " + className + " cannot be loaded: " + e, e);
            }
            Method best = null;
            Kind[] bestKinds = null;
            List<Method> all = new ArrayList<>(Arrays.asList(c.getMethods()));
            all.addAll(Arrays.asList(c.getDeclaredMethods()));
            for (Method m : all) {
                if (!m.getName().equals(methodName) || m.isBridge() || m.isSynthetic()) {
                    continue;
                }
                Kind[] kinds = kinds(m.getParameterTypes());
                if (kinds != null && (best == null || kinds.length > bestKinds.length)) {
                    best = m;
                    bestKinds = kinds;
                }
            }
            if (best == null) {
                throw new LoadError("Runtime.HandlerNotFound", "no method " + methodName + " on " + className
                        + " taking (event), (event, context) or (InputStream, OutputStream, context)", null);
            }
            Object target = null;
            try {
                best.setAccessible(true);
                if (!Modifier.isStatic(best.getModifiers())) {
                    var ctor = c.getDeclaredConstructor();
                    ctor.setAccessible(true);
                    target = ctor.newInstance();
                }
            } catch (InvocationTargetException e) {
                throw new LoadError("Runtime.HandlerConstructor", "constructing " + className + " failed: " + e.getCause(), e.getCause());
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new LoadError("Runtime.HandlerConstructor", className + " needs a constructor without parameters for the instance method "
                        + methodName + ": " + e, e);
            }
            Type eventType = Object.class;
            for (int n = 0; n < bestKinds.length; n++) {
                if (bestKinds[n] == Kind.EVENT) {
                    eventType = best.getGenericParameterTypes()[n];
                }
            }
            return new Handler(best, target, bestKinds, eventType);
        }

        /** What each parameter is: (), (event), (event, context), (InputStream, OutputStream[, context]). */
        private static Kind[] kinds(Class<?>[] p) {
            if (p.length >= 2 && p[0] == InputStream.class && p[1] == OutputStream.class) {
                if (p.length == 2) {
                    return new Kind[] {Kind.INPUT, Kind.OUTPUT};
                }
                return p.length == 3 && contextLike(p[2]) ? new Kind[] {Kind.INPUT, Kind.OUTPUT, Kind.CONTEXT} : null;
            }
            switch (p.length) {
                case 0: return new Kind[0];
                case 1: return new Kind[] {Kind.EVENT};
                case 2: return contextLike(p[1]) ? new Kind[] {Kind.EVENT, Kind.CONTEXT} : null;
                default: return null;
            }
        }

        private static boolean contextLike(Class<?> c) {
            return c.isAssignableFrom(Invocation.class) || c.isInterface();
        }

        private static URL[] classPath(String root) {
            List<URL> urls = new ArrayList<>();
            try {
                File dir = new File(root);
                urls.add(dir.toURI().toURL());
                for (File d : new File[] {dir, new File(dir, "lib")}) {
                    File[] jars = d.listFiles((f, name) -> name.endsWith(".jar"));
                    if (jars == null) {
                        continue;
                    }
                    Arrays.sort(jars);
                    for (File j : jars) {
                        urls.add(j.toURI().toURL());
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("task root " + root + ": " + e, e);
            }
            return urls.toArray(new URL[0]);
        }

        /** Calls the handler on one payload and returns the answer's bytes. */
        byte[] call(byte[] payload, Invocation ctx) throws Throwable {
            Object[] args = new Object[kinds.length];
            ByteArrayOutputStream out = null;
            for (int n = 0; n < kinds.length; n++) {
                switch (kinds[n]) {
                    case EVENT: args[n] = event(payload); break;
                    case CONTEXT: args[n] = adapt(ctx, method.getParameterTypes()[n]); break;
                    case INPUT: args[n] = new ByteArrayInputStream(payload); break;
                    case OUTPUT: args[n] = out = new ByteArrayOutputStream(); break;
                }
            }
            Object result;
            try {
                result = method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (out != null) {
                return out.toByteArray();
            }
            try {
                return Json.write(result).getBytes(StandardCharsets.UTF_8);
            } catch (RuntimeException e) {
                throw new MarshalError("unable to marshal response: " + e.getMessage(), e);
            }
        }

        private Object event(byte[] payload) {
            String text = new String(payload, StandardCharsets.UTF_8);
            Object parsed;
            try {
                parsed = text.isEmpty() ? new LinkedHashMap<String, Object>() : Json.parse(text);
            } catch (IllegalArgumentException e) {
                parsed = text; // not JSON: the text itself
            }
            if (Json.rawClass(eventType) == String.class && !(parsed instanceof String)) {
                return text;
            }
            return Json.bind(parsed, eventType);
        }
    }

    /** An answer the handler's result could not be written as. */
    static final class MarshalError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MarshalError(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Returns ctx as type t: itself when it is one, else a proxy of the interface t that calls
     * ctx's methods of the same name (so handlers written against Lambda's own Context run).
     */
    static Object adapt(Object target, Class<?> t) {
        if (target == null || t.isInstance(target)) {
            return target;
        }
        if (!t.isInterface()) {
            return null;
        }
        return Proxy.newProxyInstance(t.getClassLoader(), new Class<?>[] {t}, (proxy, m, args) -> {
            int argc = args == null ? 0 : args.length;
            if (m.getDeclaringClass() == Object.class) {
                switch (m.getName()) {
                    case "equals": return proxy == args[0];
                    case "hashCode": return System.identityHashCode(proxy);
                    default: return "sluice " + t.getSimpleName();
                }
            }
            for (Method own : target.getClass().getMethods()) {
                if (!own.getName().equals(m.getName()) || own.getParameterCount() != argc) {
                    continue;
                }
                if (!Arrays.equals(own.getParameterTypes(), m.getParameterTypes()) && argc > 0) {
                    continue;
                }
                Object r = own.invoke(target, args);
                Class<?> rt = m.getReturnType();
                if (r instanceof Number && (rt == long.class || rt == Long.class)) {
                    return ((Number) r).longValue();
                }
                return rt.isPrimitive() || rt.isInstance(r) ? r : adapt(r, rt);
            }
            Class<?> rt = m.getReturnType();
            if (rt == boolean.class) return false;
            if (rt == long.class) return 0L;
            if (rt == int.class) return 0;
            if (rt == double.class) return 0.0;
            return null;
        });
    }

    /** The context of one invocation. */
    public static final class Invocation implements Context {
        private final String id;
        private final long deadline;
        private final String arn;
        private final String traceId;
        private final Map<String, String> cloudEvent;

        Invocation(String id, Client.Answer inv) {
            this.id = id;
            long d = 0;
            try {
                d = Long.parseLong(inv.header("lambda-runtime-deadline-ms"));
            } catch (NumberFormatException e) {
                // no deadline
            }
            this.deadline = d;
            this.arn = inv.header("lambda-runtime-invoked-function-arn");
            this.traceId = inv.header("lambda-runtime-trace-id");
            Map<String, String> ce = new HashMap<>();
            try {
                Object v = Json.parse(inv.header("sluice-event-attributes"));
                if (v instanceof Map) {
                    ((Map<?, ?>) v).forEach((k, x) -> ce.put(String.valueOf(k), String.valueOf(x)));
                }
            } catch (IllegalArgumentException e) {
                // none
            }
            this.cloudEvent = ce;
        }

        private static String env(String k) {
            String v = System.getenv(k);
            return v == null ? "" : v;
        }

        @Override public String getAwsRequestId() { return id; }
        @Override public String getFunctionName() { return env("AWS_LAMBDA_FUNCTION_NAME"); }
        @Override public String getFunctionVersion() { return env("AWS_LAMBDA_FUNCTION_VERSION"); }
        @Override public String getInvokedFunctionArn() { return arn; }
        @Override public String getLogGroupName() { return env("AWS_LAMBDA_LOG_GROUP_NAME"); }
        @Override public String getLogStreamName() { return env("AWS_LAMBDA_LOG_STREAM_NAME"); }
        @Override public Map<String, String> getCloudEvent() { return cloudEvent; }
        public String getTraceId() { return traceId; }

        @Override public int getMemoryLimitInMB() {
            try {
                return Integer.parseInt(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
            } catch (NumberFormatException e) {
                return 0;
            }
        }

        @Override public int getRemainingTimeInMillis() {
            return (int) Math.max(0, Math.min(Integer.MAX_VALUE, deadline - System.currentTimeMillis()));
        }

        @Override public LambdaLogger getLogger() { return Logger.INSTANCE; }
    }

    /** Writes log lines to stdout. */
    public static final class Logger implements LambdaLogger {
        static final Logger INSTANCE = new Logger();

        @Override public void log(String message) {
            PrintStream out = System.out;
            if (message != null && message.endsWith("\n")) {
                out.print(message);
            } else {
                out.println(message);
            }
        }

        @Override public void log(byte[] message) {
            log(new String(message, StandardCharsets.UTF_8));
        }
    }

    /** One kept-alive HTTP/1.1 connection to the Runtime API. */
    static final class Client {
        private final String host;
        private final String address;
        private Socket sock;
        private InputStream in;
        private OutputStream out;

        Client(String address) {
            if (address == null || address.isEmpty()) {
                throw new IllegalStateException("AWS_LAMBDA_RUNTIME_API is not set");
            }
            this.address = address;
            this.host = address;
        }

        static final class Request {
            final String method;
            final String path;
            final byte[] body;
            final Map<String, String> headers;

            Request(String method, String path, byte[] body, Map<String, String> headers) {
                this.method = method;
                this.path = path;
                this.body = body;
                this.headers = headers;
            }
        }

        static final class Answer {
            final int status;
            final Map<String, String> headers;
            final byte[] body;

            Answer(int status, Map<String, String> headers, byte[] body) {
                this.status = status;
                this.headers = headers;
                this.body = body;
            }

            String header(String name) {
                String v = headers.get(name);
                return v == null ? "" : v;
            }
        }

        private void connect() throws IOException {
            int colon = address.lastIndexOf(':');
            String h = address.substring(0, colon).replace("[", "").replace("]", "");
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(h, Integer.parseInt(address.substring(colon + 1))));
            sock = s;
            in = new BufferedInputStream(s.getInputStream(), 65536);
            out = s.getOutputStream();
        }

        private void close() {
            if (sock != null) {
                try {
                    sock.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            sock = null;
        }

        void encode(ByteArrayOutputStream b, Request r) {
            byte[] body = r.body == null ? new byte[0] : r.body;
            StringBuilder head = new StringBuilder();
            head.append(r.method).append(' ').append(PREFIX).append(r.path).append(" HTTP/1.1\r\nHost: ").append(host)
                    .append("\r\nContent-Length: ").append(body.length).append("\r\n");
            if (r.headers != null) {
                for (Map.Entry<String, String> h : r.headers.entrySet()) {
                    head.append(h.getKey()).append(": ");
                    for (int n = 0; n < h.getValue().length(); n++) {
                        char c = h.getValue().charAt(n);
                        head.append(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
                    }
                    head.append("\r\n");
                }
            }
            head.append("\r\n");
            b.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            b.writeBytes(body);
        }

        private void send(Request... requests) throws IOException {
            if (sock == null) {
                connect();
            }
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (Request r : requests) {
                encode(b, r);
            }
            try {
                b.writeTo(out);
                out.flush();
            } catch (IOException e) {
                close();
                throw e;
            }
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (;;) {
                int c = in.read();
                if (c < 0) {
                    if (b.size() == 0) {
                        throw new IOException("runtime api closed the connection");
                    }
                    break;
                }
                if (c == '\n') {
                    break;
                }
                b.write(c);
            }
            String s = b.toString(StandardCharsets.ISO_8859_1);
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }

        /**
         * Reads the answers of raw, a stream of HTTP/1.1 answers, as they would come from the
         * Runtime API (the warm-up runs the reading code on them).
         */
        static List<Answer> parse(byte[] raw, int count) throws IOException {
            Client c = new Client("127.0.0.1:9");
            c.in = new BufferedInputStream(new ByteArrayInputStream(raw), 65536);
            List<Answer> all = new ArrayList<>();
            for (int n = 0; n < count; n++) {
                all.add(c.read());
            }
            return all;
        }

        private Answer read() throws IOException {
            String status = line();
            String[] parts = status.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                throw new IOException("runtime api sent a malformed status line: " + status);
            }
            Map<String, String> headers = new HashMap<>();
            for (String l = line(); !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                if (colon > 0) {
                    headers.put(l.substring(0, colon).trim().toLowerCase(), l.substring(colon + 1).trim());
                }
            }
            byte[] body;
            if (headers.getOrDefault("transfer-encoding", "").toLowerCase().contains("chunked")) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                for (int size; (size = Integer.parseInt(line().split(";")[0].trim(), 16)) > 0; ) {
                    b.writeBytes(in.readNBytes(size));
                    line();
                }
                while (!line().isEmpty()) {
                    // trailers
                }
                body = b.toByteArray();
            } else {
                int n = Integer.parseInt(headers.getOrDefault("content-length", "0"));
                body = in.readNBytes(n);
                if (body.length != n) {
                    close();
                    throw new IOException("runtime api closed the connection mid-body");
                }
            }
            if ("close".equalsIgnoreCase(headers.get("connection"))) {
                close();
            }
            return new Answer(Integer.parseInt(parts[1]), headers, body);
        }

        Answer call(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
            send(new Request(method, path, body, headers));
            return read();
        }

        Answer next() throws IOException {
            Answer a = call("GET", "/invocation/next", null, null);
            if (a.status != 200) {
                throw new IOException("runtime api /next answered " + a.status + ": " + new String(a.body, StandardCharsets.UTF_8));
            }
            return a;
        }

        /** Posts an answer and asks for the next invocation in one write (HTTP/1.1 pipelining). */
        Answer answerThenNext(Request answer) throws IOException {
            send(answer, new Request("GET", "/invocation/next", null, null));
            Answer posted = read();
            if (posted.status >= 300) {
                System.err.println("[ERROR] runtime api refused the answer: " + posted.status + " " + new String(posted.body, StandardCharsets.UTF_8));
            }
            if (sock == null) {
                return next();
            }
            Answer a = read();
            if (a.status != 200) {
                throw new IOException("runtime api /next answered " + a.status + ": " + new String(a.body, StandardCharsets.UTF_8));
            }
            return a;
        }
    }
}
