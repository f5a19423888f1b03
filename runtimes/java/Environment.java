package dev.sluice.runtime;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;

/**
 * Replaces the environment the JVM reports (System.getenv, and what a ProcessBuilder's
 * environment starts from) when a pre-started process takes on a function. The JVM reads its
 * environment once and offers no way to change it; its map is reached through sun.misc.Unsafe
 * (module jdk.unsupported), so the JVM runs without any package of java.base opened to the
 * function's code. The process's own environment, which a child started without its
 * ProcessBuilder's environment consulted inherits, stays the pre-started one.
 */
final class Environment {
    private static Map<String, String> map; // the map behind System.getenv(), once found

    private Environment() {}

    /** Finds the map behind System.getenv() and writes to it once, ahead of replace. */
    @SuppressWarnings("unchecked")
    static synchronized void prepare() throws ReflectiveOperationException {
        if (map != null) {
            return;
        }
        Map<String, String> view = System.getenv();
        Field inner = view.getClass().getDeclaredField("m");
        Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
        Field the = unsafeClass.getDeclaredField("theUnsafe");
        the.setAccessible(true);
        Object unsafe = the.get(null);
        Method offset = unsafeClass.getMethod("objectFieldOffset", Field.class);
        Method get = unsafeClass.getMethod("getObject", Object.class, long.class);
        Map<String, String> m = (Map<String, String>) get.invoke(unsafe, view, (Long) offset.invoke(unsafe, inner));
        m.put("SLUICE_WARM", "1");
        m.remove("SLUICE_WARM");
        map = m;
    }

    /** Makes env the whole environment System.getenv reports. */
    static synchronized void replace(Map<String, String> env) throws ReflectiveOperationException {
        prepare();
        map.clear();
        map.putAll(env);

        if (!env.equals(System.getenv())) {
            throw new IllegalStateException("the environment did not take the function's variables");
        }
    }
}
