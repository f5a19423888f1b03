<?php
// Conformance fixtures of the php runtime (see the package's doc.go).

$count = 0;

function echo_event($event, $context)
{
    return $event;
}

function http($event, $context)
{
    return ['statusCode' => 201, 'headers' => ['X-Fixture' => 'yes'], 'body' => 'created'];
}

function fail($event, $context)
{
    throw new InvalidArgumentException('boom');
}

function crash($event, $context)
{
    fwrite(STDERR, "about to crash\n");
    exit(3);
}

function hang($event, $context)
{
    for (;;) {
        sleep(60);
    }
}

function flood($event, $context)
{
    for ($n = 0; $n < $event['lines']; $n++) {
        echo "line $n\n";
    }
    echo str_repeat('x', $event['long']), "\n";
    return ['printed' => $event['lines']];
}

function env($event, $context)
{
    return ['value' => (string)getenv($event['name'])];
}

function context($event, $context)
{
    $context->log('logged via context');
    return [
        'requestId' => $context->getAwsRequestId(),
        'functionName' => $context->getFunctionName(),
        'functionVersion' => $context->getFunctionVersion(),
        'memoryLimitInMB' => $context->getMemoryLimitInMB(),
        'remaining' => $context->getRemainingTimeInMillis(),
    ];
}

function counter($event, $context)
{
    global $count;
    $count++;
    return ['count' => $count];
}
