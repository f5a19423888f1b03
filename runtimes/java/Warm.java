package dev.sluice.runtime;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.util.stream.Stream;

/**
 * What a pre-started JVM does before a function is assigned to it: it runs the paths a
 * specialisation takes (a class defined from a folder and from a jar by a new class loader, a
 * handler resolved and called, events bound and answers written as JSON, the time zone data
 * read) on classes of its own, so that the JDK classes they need are loaded and initialised and
 * the function's first invocation pays for its own classes only.
 */
final class Warm {
    private Warm() {}

    /** A class of the bootstrap's jar that the warm-up defines again in a class loader of its own. */
    public static final class Probe {
        public String name;
        public int count;
        public List<Object> items;

        public Map<String, Object> answer() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("count", count);
            return m;
        }
    }

    /** The event type of the warm-up's typed handler. */
    public static final class Greeting {
        public String name;
        public double weight;
        public boolean ok;
    }

    public static Map<String, Object> handle(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>(event);
        out.put("request", context.getAwsRequestId());
        out.put("function", context.getFunctionName());
        out.put("remaining", context.getRemainingTimeInMillis());
        return out;
    }

    public static Greeting typed(Greeting g) {
        return g;
    }

    public static String text(String s) {
        return s;
    }

    /** Runs the warm-up; root is the task root, still empty. Failures are ignored: it only saves time. */
    static void up(String root) {
        try {
            defineAgain();
        } catch (IOException | ReflectiveOperationException | RuntimeException | LinkageError e) {
            // only a saving
        }
        String[][] calls = {
            {"dev.sluice.runtime.Warm::handle", "{\"a\":[1,2.5,\"x\",true,null,{\"b\":-3e2}],\"s\":\"\\u00e9\\n\"}"},
            {"dev.sluice.runtime.Warm::typed", "{\"name\":\"n\",\"weight\":1.5,\"ok\":true,\"extra\":[1]}"},
            {"dev.sluice.runtime.Warm::text", "\"hello\""},
        };
        for (String[] c : calls) {
            try {
                Bootstrap.Handler h = Bootstrap.Handler.load(c[0], root);
                Map<String, String> headers = new LinkedHashMap<>();
                headers.put("lambda-runtime-aws-request-id", "warm");
                headers.put("lambda-runtime-deadline-ms", Long.toString(System.currentTimeMillis() + 60000));
                headers.put("sluice-event-attributes", "{\"id\":\"warm\",\"type\":\"dev.sluice.invoke\"}");
                Bootstrap.Client.Answer inv = new Bootstrap.Client.Answer(200, headers, c[1].getBytes(StandardCharsets.UTF_8));
                Bootstrap.Client.Request answer = Bootstrap.invoke(h, inv);
                new Bootstrap.Client("127.0.0.1:9").encode(new java.io.ByteArrayOutputStream(), answer);
            } catch (Throwable t) {
                // only a saving
            }
        }
        try {
            String body = "{\"handler\":\"a.B::c\",\"env\":{\"K\":\"V\"}}";
            String raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body
                    + "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
                    + "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: warm\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}";
            for (Bootstrap.Client.Answer a : Bootstrap.Client.parse(raw.getBytes(StandardCharsets.ISO_8859_1), 3)) {
                a.header("lambda-runtime-aws-request-id");
            }
        } catch (IOException | RuntimeException e) {
            // only a saving
        }
        try {
            Bootstrap.record(new IllegalStateException("warm"), null);
            Bootstrap.Handler.load("dev.sluice.runtime.NoSuchClass::handle", root);
        } catch (Bootstrap.LoadError | RuntimeException e) {
            // expected
        }
        try {
            Environment.prepare();
        } catch (ReflectiveOperationException | RuntimeException e) {
            // replace tries again, and fails the specialisation if it cannot
        }
        TimeZone.getTimeZone("Europe/Paris");
        Thread.currentThread().setContextClassLoader(Warm.class.getClassLoader());
    }

    /** Defines Probe again from the bootstrap's jar and from a folder, each in a new class loader. */
    private static void defineAgain() throws IOException, ReflectiveOperationException {
        URL jar = Warm.class.getProtectionDomain().getCodeSource().getLocation();
        String name = Probe.class.getName();
        try (URLClassLoader l = new URLClassLoader(new URL[] {jar}, null)) {
            l.loadClass(name).getConstructor().newInstance();
        }
        Path dir = Files.createTempDirectory("sluice-warm-");
        try {
            String file = name.replace('.', '/') + ".class";
            Path to = dir.resolve(file);
            Files.createDirectories(to.getParent());
            try (InputStream in = Warm.class.getClassLoader().getResourceAsStream(file)) {
                if (in == null) {
                    return;
                }
                Files.copy(in, to);
            }
            try (URLClassLoader l = new URLClassLoader(new URL[] {dir.toUri().toURL(), new File(dir.toFile(), "none.jar").toURI().toURL()}, null)) {
                Class<?> c = Class.forName(name, true, l);
                c.getMethods();
                c.getDeclaredConstructor().newInstance();
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
