package dev.sluice.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JSON with the JDK only: parse text into Map (LinkedHashMap), List, String, Integer, Long,
 * BigInteger, Double, Boolean and null; write any of those, arrays, records and plain objects
 * (public fields and getters) back; bind parsed values to a declared type (fields of a plain
 * class, record components, typed lists and maps).
 */
final class Json {
    private static final int MAX_DEPTH = 512;
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value; IllegalArgumentException when s is not JSON. */
    static Object parse(String s) {
        Json p = new Json(s);
        Object v = p.value(0);
        p.ws();
        if (p.i != s.length()) {
            throw p.error("trailing characters");
        }
        return v;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("invalid JSON at offset " + i + ": " + what);
    }

    private void ws() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            i++;
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("nested too deeply");
        }
        ws();
        if (i >= s.length()) {
            throw error("unexpected end");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{': {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (i < s.length() && s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                for (;;) {
                    ws();
                    if (i >= s.length() || s.charAt(i) != '"') {
                        throw error("expected a string key");
                    }
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value(depth + 1));
                    ws();
                    if (i < s.length() && s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            case '[': {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (i < s.length() && s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                for (;;) {
                    l.add(value(depth + 1));
                    ws();
                    if (i < s.length() && s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private void expect(char c) {
        if (i >= s.length() || s.charAt(i) != c) {
            throw error("expected '" + c + "'");
        }
        i++;
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, i)) {
            throw error("unexpected character");
        }
        i += word.length();
        return v;
    }

    private String string() {
        i++; // the opening quote
        StringBuilder b = new StringBuilder();
        for (;;) {
            if (i >= s.length()) {
                throw error("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw error("control character in a string");
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw error("unterminated escape");
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"': case '\\': case '/': b.append(e); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    if (i + 4 > s.length()) {
                        throw error("short \\u escape");
                    }
                    try {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    i += 4;
                    break;
                default:
                    throw error("bad escape");
            }
        }
    }

    private Object number() {
        int start = i;
        if (i < s.length() && s.charAt(i) == '-') {
            i++;
        }
        boolean integral = true;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c >= '0' && c <= '9') {
                i++;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                i++;
            } else {
                break;
            }
        }
        String t = s.substring(start, i);
        if (t.isEmpty() || t.equals("-")) {
            throw error("unexpected character");
        }
        try {
            if (integral) {
                BigInteger n = new BigInteger(t);
                if (n.bitLength() < 32) {
                    return n.intValue();
                }
                return n.bitLength() < 64 ? (Object) n.longValue() : n;
            }
            return Double.parseDouble(t);
        } catch (NumberFormatException ex) {
            throw error("bad number " + t);
        }
    }

    // ---- writing ----

    /** The JSON text of v. */
    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("result nested too deeply (a cycle?)");
        }
        if (v == null) {
            b.append("null");
        } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum) {
            quote(b, v instanceof Enum ? ((Enum<?>) v).name() : v.toString());
        } else if (v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            b.append(Double.isNaN(d) || Double.isInfinite(d) ? "null" : v.toString());
        } else if (v instanceof Number) {
            b.append(v);
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue(), depth + 1);
            }
            b.append('}');
        } else if (v instanceof Iterable) {
            b.append('[');
            boolean first = true;
            for (Object x : (Iterable<?>) v) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, x, depth + 1);
            }
            b.append(']');
        } else if (v.getClass().isArray()) {
            b.append('[');
            for (int n = 0, len = Array.getLength(v); n < len; n++) {
                if (n > 0) {
                    b.append(',');
                }
                write(b, Array.get(v, n), depth + 1);
            }
            b.append(']');
        } else if (v.getClass().getName().startsWith("java.")) {
            quote(b, v.toString()); // dates, times, UUIDs, URIs: their usual text
        } else {
            write(b, properties(v), depth + 1);
        }
    }

    /** The properties of a record or plain object: record components, else public fields and getters. */
    private static Map<String, Object> properties(Object v) {
        Map<String, Object> m = new LinkedHashMap<>();
        Class<?> c = v.getClass();
        try {
            if (c.isRecord()) {
                for (RecordComponent rc : c.getRecordComponents()) {
                    Method a = rc.getAccessor();
                    a.setAccessible(true);
                    m.put(rc.getName(), a.invoke(v));
                }
                return m;
            }
            for (Field f : c.getFields()) {
                if (!Modifier.isStatic(f.getModifiers())) {
                    m.put(f.getName(), f.get(v));
                }
            }
            for (Method g : c.getMethods()) {
                String n = g.getName();
                if (Modifier.isStatic(g.getModifiers()) || g.getParameterCount() != 0 || n.equals("getClass")
                        || g.getReturnType() == void.class) {
                    continue;
                }
                String p;
                if (n.startsWith("get") && n.length() > 3) {
                    p = n.substring(3);
                } else if (n.startsWith("is") && n.length() > 2 && g.getReturnType() == boolean.class) {
                    p = n.substring(2);
                } else {
                    continue;
                }
                p = Character.toLowerCase(p.charAt(0)) + p.substring(1);
                if (!m.containsKey(p)) {
                    g.setAccessible(true);
                    m.put(p, g.invoke(v));
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException("cannot serialise " + c.getName() + ": " + e, e);
        }
        return m;
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int n = 0; n < s.length(); n++) {
            char c = s.charAt(n);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }

    // ---- binding ----

    /** Binds a parsed JSON value to type t; IllegalArgumentException when it does not fit. */
    static Object bind(Object v, Type t) {
        Class<?> raw = rawClass(t);
        if (raw == Object.class) {
            return v;
        }
        if (v == null) {
            return raw.isPrimitive() ? bind(raw == boolean.class ? Boolean.FALSE : (Object) 0, raw) : null;
        }
        if (raw == String.class || raw == CharSequence.class) {
            return v instanceof String ? v : write(v);
        }
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == Boolean.class || raw == Character.class) {
            return scalar(v, raw);
        }
        if (raw.isEnum()) {
            for (Object c : raw.getEnumConstants()) {
                if (((Enum<?>) c).name().equals(String.valueOf(v))) {
                    return c;
                }
            }
            throw new IllegalArgumentException("no constant " + v + " in " + raw.getName());
        }
        if (Map.class.isAssignableFrom(raw)) {
            if (!(v instanceof Map)) {
                throw mismatch(v, raw);
            }
            Type vt = typeArg(t, 1);
            Map<Object, Object> m = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                m.put(e.getKey(), bind(e.getValue(), vt));
            }
            return m;
        }
        if (Collection.class.isAssignableFrom(raw) || raw == Iterable.class) {
            if (!(v instanceof List)) {
                throw mismatch(v, raw);
            }
            Type et = typeArg(t, 0);
            Collection<Object> c = Set.class.isAssignableFrom(raw) ? new LinkedHashSet<>() : new ArrayList<>();
            for (Object x : (List<?>) v) {
                c.add(bind(x, et));
            }
            return c;
        }
        if (raw.isArray()) {
            if (!(v instanceof List)) {
                throw mismatch(v, raw);
            }
            Type et = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : raw.getComponentType();
            List<?> l = (List<?>) v;
            Object a = Array.newInstance(raw.getComponentType(), l.size());
            for (int n = 0; n < l.size(); n++) {
                Array.set(a, n, bind(l.get(n), et));
            }
            return a;
        }
        if (!(v instanceof Map)) {
            throw mismatch(v, raw);
        }
        try {
            return raw.isRecord() ? record((Map<?, ?>) v, raw) : object((Map<?, ?>) v, raw);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("cannot make a " + raw.getName() + " of the event: " + e, e);
        }
    }

    private static Object record(Map<?, ?> m, Class<?> raw) throws ReflectiveOperationException {
        RecordComponent[] rcs = raw.getRecordComponents();
        Class<?>[] types = new Class<?>[rcs.length];
        Object[] args = new Object[rcs.length];
        for (int n = 0; n < rcs.length; n++) {
            types[n] = rcs[n].getType();
            args[n] = bind(m.get(rcs[n].getName()), rcs[n].getGenericType());
        }
        Constructor<?> c = raw.getDeclaredConstructor(types);
        c.setAccessible(true);
        return c.newInstance(args);
    }

    private static Object object(Map<?, ?> m, Class<?> raw) throws ReflectiveOperationException {
        Constructor<?> c = raw.getDeclaredConstructor();
        c.setAccessible(true);
        Object o = c.newInstance();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String name = String.valueOf(e.getKey());
            Field f = field(raw, name);
            if (f != null) {
                f.setAccessible(true);
                f.set(o, bind(e.getValue(), f.getGenericType()));
                continue;
            }
            String setter = "set" + (name.isEmpty() ? "" : Character.toUpperCase(name.charAt(0)) + name.substring(1));
            for (Method s : raw.getMethods()) {
                if (s.getName().equals(setter) && s.getParameterCount() == 1 && !Modifier.isStatic(s.getModifiers())) {
                    s.invoke(o, bind(e.getValue(), s.getGenericParameterTypes()[0]));
                    break;
                }
            }
            // Unknown properties are ignored, as Lambda's serialiser does.
        }
        return o;
    }

    private static Field field(Class<?> c, String name) {
        for (; c != null && c != Object.class; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) && !Modifier.isFinal(mod) && !Modifier.isTransient(mod)) {
                    return f;
                }
            } catch (NoSuchFieldException e) {
                // look in the superclass
            }
        }
        return null;
    }

    private static Object scalar(Object v, Class<?> raw) {
        if (raw == boolean.class || raw == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            throw mismatch(v, raw);
        }
        if (raw == char.class || raw == Character.class) {
            String s = String.valueOf(v);
            if (s.length() == 1) {
                return s.charAt(0);
            }
            throw mismatch(v, raw);
        }
        BigDecimal d;
        if (v instanceof Number) {
            d = new BigDecimal(v.toString());
        } else if (v instanceof String) {
            try {
                d = new BigDecimal((String) v);
            } catch (NumberFormatException e) {
                throw mismatch(v, raw);
            }
        } else {
            throw mismatch(v, raw);
        }
        if (raw == int.class || raw == Integer.class) return d.intValue();
        if (raw == long.class || raw == Long.class) return d.longValue();
        if (raw == double.class || raw == Double.class) return d.doubleValue();
        if (raw == float.class || raw == Float.class) return d.floatValue();
        if (raw == short.class || raw == Short.class) return d.shortValue();
        if (raw == byte.class || raw == Byte.class) return d.byteValue();
        if (raw == BigInteger.class) return d.toBigInteger();
        if (raw == BigDecimal.class) return d;
        return v instanceof Number ? v : d; // Number itself
    }

    private static IllegalArgumentException mismatch(Object v, Class<?> raw) {
        String what = v instanceof Map ? "an object" : v instanceof List ? "an array" : v instanceof String ? "a string" : String.valueOf(v);
        return new IllegalArgumentException("cannot bind " + what + " to " + raw.getName());
    }

    static Class<?> rawClass(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        return Object.class; // type variables and wildcards
    }

    private static Type typeArg(Type t, int n) {
        if (t instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            if (n < args.length) {
                return args[n];
            }
        }
        return Object.class;
    }
}
