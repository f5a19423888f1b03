package dev.sluice.runtime;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;

/**
 * Replaces the environment the JVM reports (System.getenv, and what ProcessBuilder passes on) when
 * a pre-started process takes on a function. The JVM reads its environment once and offers no way
 * to change it; its map is reached through sun.misc.Unsafe (module jdk.unsupported), so the JVM
 * runs without any package of java.base opened to the function's code.
 */
final class Environment {
    private Environment() {}

    /** Makes env the whole environment System.getenv reports. */
    @SuppressWarnings("unchecked")
    static void replace(Map<String, String> env) throws ReflectiveOperationException {
        Map<String, String> view = System.getenv();
        Field inner = view.getClass().getDeclaredField("m");
        Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
        Field the = unsafeClass.getDeclaredField("theUnsafe");
        the.setAccessible(true);
        Object unsafe = the.get(null);
        Method offset = unsafeClass.getMethod("objectFieldOffset", Field.class);
        Method get = unsafeClass.getMethod("getObject", Object.class, long.class);
        Map<String, String> m = (Map<String, String>) get.invoke(unsafe, view, (Long) offset.invoke(unsafe, inner));
        m.clear();
        m.putAll(env);
        if (!env.equals(System.getenv())) {
            throw new IllegalStateException("the environment did not take the function's variables");
        }
    }
}
