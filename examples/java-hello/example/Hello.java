// A greeting function: sluice deploy java-hello --runtime java --handler example.Hello::handleRequest
// --source examples/java-hello (the .java sources are compiled at deploy).
package example;

import dev.sluice.runtime.Context;
import java.util.Map;

public class Hello {
    /** The greeting's answer: a record becomes a JSON object. */
    public record Greeting(String message, String runtime) {}

    public Greeting handleRequest(Map<String, Object> event, Context context) {
        Object name = event.get("name");
        if (event.get("body") instanceof String body && !body.isEmpty()) {
            // Called through its function URL: the event is the HTTP request; its body is the JSON.
            String text = Boolean.TRUE.equals(event.get("isBase64Encoded"))
                    ? new String(java.util.Base64.getDecoder().decode(body), java.nio.charset.StandardCharsets.UTF_8)
                    : body;
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"name\"\\s*:\\s*\"([^\"]*)\"").matcher(text);
            if (m.find()) {
                name = m.group(1);
            }
        }
        String who = name instanceof String s && !s.isEmpty() ? s : "world";
        context.getLogger().log("saying hello to " + who);
        return new Greeting("Hello, " + who + "!", "java");
    }
}
