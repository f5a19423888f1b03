// Package queue is the trigger adapter for message queues: every message of a core NATS subject,
// a JetStream stream or a RabbitMQ queue becomes one invocation CloudEvent of the trigger's
// function (type dev.sluice.queue.message), stored on the bus before the source is told the
// message was taken.
//
// URLs (docs/design.md §8):
//
//	nats://[USER:PASS@]HOST[:PORT]/SUBJECT   a core NATS subject (wildcards allowed)
//	jetstream://[USER:PASS@]HOST[:PORT]/STREAM   every message of a JetStream stream
//	amqp://USER:PASS@HOST[:PORT]/QUEUE   a durable RabbitMQ queue (default vhost)
//
// New parses and validates the URL; anything else (another scheme, no host, no or an invalid
// subject, stream or queue, query strings) is refused with an error wrapping
// events.ErrInvalidTrigger.
//
// # Events
//
// Each message becomes one event: source is the URL without credentials, subject the NATS
// subject, stream subject or queue name, data the message body as it is, datacontenttype the
// message's Content-Type header (AMQP: its content-type property) when it has one. The message's
// other headers travel in the "sluiceheaders" extension as a JSON object of lists of strings
// ({"Name": ["value"]}), so a function sees them beside the data without the data being wrapped.
// A body over events.MaxPayload (6 MiB) or headers over 32 KiB of JSON can never become an
// event: such a message is refused (JetStream: Term; AMQP: acked and dropped; core NATS: dropped)
// and reported as the trigger's last error, never retried forever.
//
// Event ids are deterministic wherever the source allows, and always start with the trigger id so
// that two triggers on the same source never absorb each other's events:
//
//   - JetStream: TRIGGER-STREAM-SEQUENCE. A redelivery (an ack lost, an adapter killed between the
//     bus's ack and the source's) publishes the same id again and the bus's 2-minute duplicate
//     window absorbs it: the function runs once.
//   - AMQP: TRIGGER-MESSAGEID from the message-id property, else from Watermill's
//     _watermill_message_uuid header. A message with neither gets a random id, so a redelivery
//     of it (RabbitMQ redelivers whatever was unacked when a consumer went away) invokes again.
//     Publishers that want exactly-once invocations set message-id.
//   - core NATS: TRIGGER-ID from a Nats-Msg-Id header, else a random id. Core NATS never
//     redelivers, so duplicates come only from publishers that send twice.
//
// # Batches
//
// A spec with Batching hands the function up to Batching.Size messages at once (package batch):
// one event of type dev.sluice.queue.batch whose data is {"Records": [Record...]}, SQS-shaped,
// each record's messageId the id its message would have alone. Every message's delivery waits
// for its batch to be stored and is settled as a message alone is; MaxInFlight is raised to
// the batch size so that a batch can fill.
//
// # Delivery
//
// JetStream: a durable pull consumer named from the trigger id (so every adapter process of the
// trigger shares it and a restart resumes where it stopped), delivering the whole stream from its
// first message when created, Batch messages per pull, at most MaxInFlight unacknowledged. The
// source message is acked only after the bus acked the event; a failed publish is nacked with a
// delay that grows with the delivery count. Nothing is lost while sluice is down.
//
// AMQP (through Watermill): the queue is declared durable; the adapter holds MaxInFlight
// consumers with a prefetch of one each, so at most MaxInFlight deliveries are unacked. A
// delivery is acked only after the bus acked the event, and nacked with requeue (after a delay,
// so a broken bus is not a busy loop) when the publish failed. Messages wait in the queue while
// sluice is down.
//
// core NATS: a queue-group subscription (group named from the trigger id), so several adapter
// processes share the messages. Core NATS has no acknowledgement: everything published while no
// adapter process is subscribed (sluice down, restarting, or the broker connection lost) is
// lost, and so is what a process holds in memory when it stops or when the subscription falls
// too far behind (a slow consumer). Use a JetStream stream where that matters.
//
// # Failures
//
// A broker that is down at start or goes away is retried with exponential backoff (250ms doubling
// to 30s, with jitter) while the adapter reports events.StateRetrying with the error, and
// events.StateRunning again once it is back. Run returns only when its ctx ends.
package queue
