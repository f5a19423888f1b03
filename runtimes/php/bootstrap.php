<?php
// sluice PHP bootstrap: runs a handler behind the AWS Lambda Runtime API.
//
// Standard library only (the json extension and core streams). Start: php bootstrap.php, with
// AWS_LAMBDA_RUNTIME_API, _HANDLER (file.function, the file may sit in a folder:
// lib/app.handler, meaning lib/app.php and its function handler) and LAMBDA_TASK_ROOT set. The
// handler is called as handler($event, $context): $event is the JSON payload decoded to
// associative arrays (an empty JSON object becomes an empty ArrayObject, so it encodes back as
// {}), the raw text when the payload is not JSON; the result is encoded back to JSON.

declare(strict_types=1);

namespace Sluice\Runtime;

const PREFIX = '/2018-06-01/runtime';

/** One kept-alive HTTP/1.1 connection to the Runtime API. */
final class Client
{
    private $sock = null;
    private string $host;

    public function __construct(private string $address)
    {
        $this->host = $address;
    }

    private function connect(): void
    {
        $sock = @stream_socket_client('tcp://' . $this->address, $errno, $errstr, 10);
        if ($sock === false) {
            throw new \RuntimeException("runtime api at {$this->address}: $errstr ($errno)");
        }
        stream_set_timeout($sock, 86400 * 365);
        $this->sock = $sock;
    }

    private function close(): void
    {
        if ($this->sock !== null) {
            @fclose($this->sock);
        }
        $this->sock = null;
    }

    public static function request(string $host, string $method, string $path, string $body = '', array $headers = []): string
    {
        $head = "$method " . PREFIX . "$path HTTP/1.1\r\nHost: $host\r\nContent-Length: " . strlen($body) . "\r\n";
        foreach ($headers as $name => $value) {
            $head .= $name . ': ' . str_replace(["\r", "\n", "\0"], ' ', (string)$value) . "\r\n";
        }
        return $head . "\r\n" . $body;
    }

    private function write(string $data): void
    {
        if ($this->sock === null) {
            $this->connect();
        }
        for ($off = 0, $len = strlen($data); $off < $len; $off += $n) {
            $n = @fwrite($this->sock, substr($data, $off));
            if ($n === false || $n === 0) {
                $this->close();
                throw new \RuntimeException('runtime api: write failed');
            }
        }
    }

    /** Reads one answer: [status, lower-cased headers, body]. */
    private function read(): array
    {
        $line = fgets($this->sock);
        if ($line === false) {
            $this->close();
            throw new \RuntimeException('runtime api closed the connection');
        }
        $parts = explode(' ', trim($line), 3);
        $status = (int)($parts[1] ?? 0);
        $headers = [];
        while (($line = fgets($this->sock)) !== false) {
            $line = rtrim($line, "\r\n");
            if ($line === '') {
                break;
            }
            [$name, $value] = array_pad(explode(':', $line, 2), 2, '');
            $headers[strtolower(trim($name))] = trim($value);
        }
        $body = '';
        if (stripos($headers['transfer-encoding'] ?? '', 'chunked') !== false) {
            while (($size = hexdec(trim(explode(';', (string)fgets($this->sock))[0]))) > 0) {
                $body .= $this->readN((int)$size);
                fgets($this->sock);
            }
            while (($line = fgets($this->sock)) !== false && rtrim($line, "\r\n") !== '') {
            }
        } else {
            $body = $this->readN((int)($headers['content-length'] ?? 0));
        }
        if (strtolower($headers['connection'] ?? '') === 'close') {
            $this->close();
        }
        return [$status, $headers, $body];
    }

    private function readN(int $n): string
    {
        $out = '';
        while (strlen($out) < $n) {
            $chunk = fread($this->sock, $n - strlen($out));
            if ($chunk === false || ($chunk === '' && feof($this->sock))) {
                $this->close();
                throw new \RuntimeException('runtime api closed the connection mid-body');
            }
            $out .= $chunk;
        }
        return $out;
    }

    public function call(string $method, string $path, string $body = '', array $headers = []): array
    {
        $this->write(self::request($this->host, $method, $path, $body, $headers));
        return $this->read();
    }

    public function next(): array
    {
        [$status, $headers, $body] = $this->call('GET', '/invocation/next');
        if ($status !== 200) {
            throw new \RuntimeException("runtime api /next answered $status: " . substr($body, 0, 200));
        }
        return [$headers, $body];
    }

    /** Posts an answer and asks for the next invocation in one write (HTTP/1.1 pipelining). */
    public function answerThenNext(array $answer): array
    {
        [$path, $body, $headers] = $answer;
        $this->write(self::request($this->host, 'POST', $path, $body, $headers) .
            self::request($this->host, 'GET', '/invocation/next'));
        [$status, , $text] = $this->read();
        if ($status >= 300) {
            fwrite(STDERR, "[ERROR] runtime api refused the answer: $status " . substr($text, 0, 200) . "\n");
        }
        if ($this->sock === null) {
            return $this->next();
        }
        [$status, $headers, $body] = $this->read();
        if ($status !== 200) {
            throw new \RuntimeException("runtime api /next answered $status: " . substr($body, 0, 200));
        }
        return [$headers, $body];
    }
}

/** The handler's context object, with the names AWS Lambda's runtimes use. */
final class Context
{
    public function __construct(
        private string $requestId,
        private int $deadlineMs,
        private string $invokedFunctionArn,
        private array $cloudEvent,
        private ?array $clientContext,
        private ?array $identity,
        private string $traceId,
    ) {
    }

    public function getAwsRequestId(): string { return $this->requestId; }
    public function getInvokedFunctionArn(): string { return $this->invokedFunctionArn; }
    public function getFunctionName(): string { return (string)getenv('AWS_LAMBDA_FUNCTION_NAME'); }
    public function getFunctionVersion(): string { return (string)getenv('AWS_LAMBDA_FUNCTION_VERSION'); }
    public function getMemoryLimitInMB(): int { return (int)getenv('AWS_LAMBDA_FUNCTION_MEMORY_SIZE'); }
    public function getLogGroupName(): string { return (string)getenv('AWS_LAMBDA_LOG_GROUP_NAME'); }
    public function getLogStreamName(): string { return (string)getenv('AWS_LAMBDA_LOG_STREAM_NAME'); }
    public function getDeadlineMs(): int { return $this->deadlineMs; }
    public function getTraceId(): string { return $this->traceId; }
    /** The invocation's CloudEvent attributes (id, type, source, subject, time). */
    public function getCloudEvent(): array { return $this->cloudEvent; }
    public function getClientContext(): ?array { return $this->clientContext; }
    public function getIdentity(): ?array { return $this->identity; }

    public function getRemainingTimeInMillis(): int
    {
        return max(0, $this->deadlineMs - (int)floor(microtime(true) * 1000));
    }

    /** Writes one log line of the invocation. */
    public function log(string $message): void
    {
        fwrite(STDOUT, str_ends_with($message, "\n") ? $message : $message . "\n");
    }
}

final class LoadError extends \Exception
{
    public function __construct(public string $type, string $message, ?\Throwable $cause = null)
    {
        parent::__construct($message, 0, $cause);
    }
}

/** Error record of a Throwable, in the Runtime API's shape. */
function record(\Throwable $e, ?string $type = null): array
{
    $trace = [$e->getFile() . ':' . $e->getLine()];
    foreach (explode("\n", $e->getTraceAsString()) as $line) {
        $trace[] = $line;
    }
    return ['errorType' => $type ?? get_class($e), 'errorMessage' => $e->getMessage(), 'stackTrace' => $trace];
}

function report(array $record): void
{
    fwrite(STDERR, "[ERROR] {$record['errorType']}: {$record['errorMessage']}\n");
    foreach ($record['stackTrace'] as $line) {
        fwrite(STDERR, "    $line\n");
    }
}

function errorAnswer(string $path, array $record): array
{
    $body = json_encode($record, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    return [$path, $body, ['Content-Type' => 'application/json', 'Lambda-Runtime-Function-Error-Type' => $record['errorType']]];
}

/** Turns decoded JSON objects into associative arrays, empty ones into ArrayObject. */
function arrays(mixed $v): mixed
{
    if ($v instanceof \stdClass) {
        $a = get_object_vars($v);
        if (!$a) {
            return new \ArrayObject();
        }
        foreach ($a as $k => $x) {
            $a[$k] = arrays($x);
        }
        return $a;
    }
    if (is_array($v)) {
        foreach ($v as $k => $x) {
            $v[$k] = arrays($x);
        }
    }
    return $v;
}

function decode(string $raw): mixed
{
    if ($raw === '') {
        return [];
    }
    try {
        return arrays(json_decode($raw, false, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING));
    } catch (\JsonException) {
        return $raw;
    }
}

function header_json(array $headers, string $name): ?array
{
    if (!isset($headers[$name]) || $headers[$name] === '') {
        return null;
    }
    $v = json_decode($headers[$name], true);
    return is_array($v) ? $v : null;
}

/** Loads file.function from the task root; throws LoadError with a Lambda error type. */
function load(string $spec, string $root): callable
{
    $slash = strrpos($spec, '/');
    $dot = strpos($spec, '.', $slash === false ? 0 : $slash + 1);
    if ($dot === false || $dot === 0 || $dot === strlen($spec) - 1) {
        throw new LoadError('Runtime.MalformedHandlerName', "bad handler \"$spec\": use file.function");
    }
    $file = substr($spec, 0, $dot);
    $function = substr($spec, $dot + 1);
    $path = $root . '/' . $file . '.php';
    if (!is_file($path)) {
        throw new LoadError('Runtime.ImportModuleError', "cannot find \"$file.php\" in the task root");
    }
    try {
        (static function (string $path): void {
            require_once $path;
        })($path);
    } catch (\ParseError $e) {
        throw new LoadError('Runtime.UserCodeSyntaxError', "syntax error in \"$file.php\": {$e->getMessage()} (line {$e->getLine()})", $e);
    } catch (\Throwable $e) {
        throw new LoadError('Runtime.ImportModuleError', "unable to load \"$file.php\": " . get_class($e) . ": {$e->getMessage()}", $e);
    }
    if (!function_exists($function)) {
        throw new LoadError('Runtime.HandlerNotFound', "function \"$function\" is not defined by \"$file.php\"");
    }
    return $function;
}

/** Runs the handler on one invocation and returns the answer to post: [path, body, headers]. */
function invoke(callable $handler, array $headers, string $body): array
{
    $id = $headers['lambda-runtime-aws-request-id'] ?? '';
    try {
        $context = new Context(
            $id,
            (int)($headers['lambda-runtime-deadline-ms'] ?? 0),
            $headers['lambda-runtime-invoked-function-arn'] ?? '',
            header_json($headers, 'sluice-event-attributes') ?? [],
            header_json($headers, 'lambda-runtime-client-context'),
            header_json($headers, 'lambda-runtime-cognito-identity'),
            $headers['lambda-runtime-trace-id'] ?? '',
        );
        $result = $handler(decode($body), $context);
    } catch (\Throwable $e) {
        $record = record($e);
        report($record);
        return errorAnswer("/invocation/$id/error", $record);
    }
    try {
        $out = json_encode($result, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
    } catch (\JsonException $e) {
        $record = ['errorType' => 'Runtime.MarshalError', 'errorMessage' => 'unable to marshal response: ' . $e->getMessage(), 'stackTrace' => []];
        report($record);
        return errorAnswer("/invocation/$id/error", $record);
    }
    return ["/invocation/$id/response", $out, ['Content-Type' => 'application/json']];
}

function main(): void
{
    $client = new Client((string)getenv('AWS_LAMBDA_RUNTIME_API'));
    $root = getenv('LAMBDA_TASK_ROOT') ?: getcwd();
    set_include_path($root . PATH_SEPARATOR . get_include_path());
    // Loading the user's code is the last step before the loop.
    try {
        $handler = load((string)getenv('_HANDLER'), $root);
    } catch (LoadError $e) {
        $record = record($e->getPrevious() ?? $e, $e->type);
        $record['errorMessage'] = $e->getMessage();
        report($record);
        try {
            $client->call('POST', ...errorAnswer('/init/error', $record));
        } catch (\Throwable) {
        }
        exit(1);
    }
    [$headers, $body] = $client->next();
    for (;;) {
        [$headers, $body] = $client->answerThenNext(invoke($handler, $headers, $body));
    }
}

main();
