package conformance;

import dev.sluice.runtime.Context;
import java.util.List;
import java.util.Map;

/** Conformance fixtures of the java runtime (see the package's doc.go). */
public class Fixtures {
    /** The event bound to a plain class. */
    public static class Flood {
        public int lines;
        // "long" is a Java keyword: the long line's length arrives in a map-typed handler.
    }

    /** A record as the event. */
    public record EnvRequest(String name) {}

    /** A plain class as the result: public fields become JSON properties. */
    public static class Response {
        public int statusCode = 201;
        public Map<String, String> headers = Map.of("X-Fixture", "yes");
        public String body = "created";
    }

    private int count; // instance state: the class is made once per instance

    public static Object echo(Object event) {
        return event;
    }

    public static Response http(String event) {
        return new Response();
    }

    public static Object fail(Map<String, Object> event) {
        throw new IllegalArgumentException("boom");
    }

    public static Object crash(Map<String, Object> event) {
        System.err.println("about to crash");
        System.exit(3);
        return null;
    }

    public static Object hang(Map<String, Object> event) throws InterruptedException {
        for (;;) {
            Thread.sleep(60000);
        }
    }

    public static Map<String, Object> flood(Map<String, Object> event, Context context) {
        int lines = ((Number) event.get("lines")).intValue();
        for (int n = 0; n < lines; n++) {
            System.out.println("line " + n);
        }
        System.out.println("x".repeat(((Number) event.get("long")).intValue()));
        Flood f = new Flood();
        f.lines = lines;
        return Map.of("printed", f.lines);
    }

    public static Map<String, String> env(EnvRequest event) {
        String v = System.getenv(event.name());
        return Map.of("value", v == null ? "" : v);
    }

    public Map<String, Object> context(Map<String, Object> event, Context context) {
        context.getLogger().log("logged via context");
        return Map.of(
                "requestId", context.getAwsRequestId(),
                "functionName", context.getFunctionName(),
                "functionVersion", context.getFunctionVersion(),
                "memoryLimitInMB", context.getMemoryLimitInMB(),
                "remaining", context.getRemainingTimeInMillis());
    }

    public Map<String, Integer> counter(Map<String, Object> event) {
        count++;
        return Map.of("count", count);
    }

    /** Not a handler: keeps List imported for a typed-collection example. */
    static int size(List<String> l) {
        return l.size();
    }
}
