package hostile;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Hostile handlers of the java runtime: each returns what the process can see or do. */
public class Main {
    /** Who the process is and what it sees. */
    public static Map<String, Object> ids(Map<String, Object> event) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                m.put("uid", Integer.parseInt(line.split("\\s+")[1]));
            }
        }
        m.put("cwd", System.getProperty("user.dir"));
        m.put("task_root", System.getenv("LAMBDA_TASK_ROOT"));
        String[] task = new File("/var/task").list();
        if (task != null) {
            Arrays.sort(task);
        }
        m.put("task", task == null ? List.of() : Arrays.asList(task));
        byte[] cmd = Files.readAllBytes(Path.of("/proc/1/cmdline"));
        String pid1 = new String(cmd, StandardCharsets.UTF_8);
        m.put("pid1", pid1.contains("\0") ? pid1.substring(0, pid1.indexOf('\0')) : pid1);
        return m;
    }

    /** Reads event.path: {ok, value} or {ok: false, message}. */
    public static Map<String, Object> read(Map<String, Object> event) {
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            m.put("value", new String(Files.readAllBytes(Path.of((String) event.get("path"))), StandardCharsets.UTF_8));
            m.put("ok", true);
        } catch (Exception e) {
            m.put("ok", false);
            m.put("message", e.toString());
        }
        return m;
    }
}
