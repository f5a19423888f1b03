package dev.sluice.runtime;

/** Writes to the function's log, one line per call. */
public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);
}
