package dev.sluice.runtime;

import java.util.Map;

/**
 * The context of one invocation, with the names AWS Lambda's Java runtime uses. A handler takes
 * it as its last parameter: {@code Object handle(Map<String, Object> event, Context context)}.
 * A handler written against another interface with these method names (such as Lambda's own
 * Context) receives an object implementing that interface instead.
 */
public interface Context {
    /** The invocation's id. */
    String getAwsRequestId();

    String getFunctionName();

    String getFunctionVersion();

    String getInvokedFunctionArn();

    String getLogGroupName();

    String getLogStreamName();

    /** The function's memory setting, in MB. */
    int getMemoryLimitInMB();

    /** Milliseconds left before the invocation's deadline. */
    int getRemainingTimeInMillis();

    /** Writes lines to the function's log. */
    LambdaLogger getLogger();

    /** The invocation's CloudEvent attributes: id, type, source, subject, time. */
    Map<String, String> getCloudEvent();
}
