package prestart;

import dev.sluice.runtime.Context;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TimeZone;

/** Functions the instance tests run on pre-started and started JVMs. */
public class Fn {
    private static int calls; // per class loader: per function instance

    public static Map<String, String> env(Map<String, Object> event) {
        return System.getenv();
    }

    /**
     * GREETING as a process the function starts sees it: one started with the environment of
     * its ProcessBuilder (explicit), and one started without consulting it (inherited).
     */
    public static Map<String, String> childEnv(Map<String, Object> event) throws Exception {
        ProcessBuilder explicit = new ProcessBuilder("/bin/sh", "-c", "printf %s \"$GREETING\"");
        explicit.environment().put("CHILD", "1");
        return Map.of("explicit", run(explicit), "inherited", run(new ProcessBuilder("/bin/sh", "-c", "printf %s \"$GREETING\"")));
    }

    private static String run(ProcessBuilder pb) throws Exception {
        Process p = pb.redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line = r.readLine();
            p.waitFor();
            return line == null ? "" : line;
        }
    }

    public static Map<String, Object> ctx(Map<String, Object> event, Context context) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("function_name", context.getFunctionName());
        m.put("function_version", context.getFunctionVersion());
        m.put("memory_limit_in_mb", String.valueOf(context.getMemoryLimitInMB()));
        m.put("invoked_function_arn", context.getInvokedFunctionArn());
        m.put("aws_request_id", context.getAwsRequestId());
        return m;
    }

    /** Who serves the invocation: the process, the function's state, the time zone. */
    public static Map<String, Object> who(Map<String, Object> event, Context context) {
        calls++;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", ProcessHandle.current().pid());
        m.put("calls", calls);
        m.put("function", context.getFunctionName());
        m.put("tz", TimeZone.getDefault().getID());
        m.put("loader", String.valueOf(System.identityHashCode(Fn.class.getClassLoader())));
        return m;
    }

    public static Map<String, Object> hello(Map<String, Object> event) {
        return Map.of("hello", "world");
    }
}
