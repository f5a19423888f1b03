<?php
// A greeting function: sluice deploy php-hello --runtime php --handler index.handler --source examples/php-hello.

/** The JSON body of a function-URL request event, or null for a direct invocation. */
function request_body($event): ?array
{
    $body = $event['body'] ?? null;
    if (!is_string($body) || $body === '') {
        return null;
    }
    if (!empty($event['isBase64Encoded'])) {
        $body = base64_decode($body);
    }
    $json = json_decode($body, true);
    return is_array($json) ? $json : null;
}

function handler($event, $context)
{
    if (!is_array($event) && !($event instanceof ArrayAccess)) {
        $event = [];
    }
    $event = request_body($event) ?? $event; // called through its function URL: the event is the HTTP request
    $name = $event['name'] ?? '' ?: 'world';
    $context->log("saying hello to $name");
    return ['message' => "Hello, $name!", 'runtime' => 'php'];
}
