package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
	"sluice.dev/services/client"
)

func (a *app) triggerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger add|list|delete",
		Short: "Manage the triggers that invoke functions (cron, bucket, queue, HTTP route)",
	}
	cmd.AddCommand(a.triggerAddCmd(), a.triggerListCmd(), a.triggerDeleteCmd())
	return cmd
}

// triggerFlags are the settings of sluice trigger add.
type triggerFlags struct {
	id                     string
	cron, tz, data         string
	catchUp                bool
	bucket, prefix, suffix string
	events                 []string
	endpoint               string
	raw, singleRecord      bool
	queue                  string
	batch, maxInFlight     int
	batchSize              int
	batchWindow            time.Duration
	reportItemFailures     bool
	orderKey               string
	cloudEvents            bool
	ce                     events.CloudEventsSpec
	httpPath, method       string
	public                 bool
	cors                   []string
}

func (a *app) triggerAddCmd() *cobra.Command {
	var f triggerFlags
	cmd := &cobra.Command{
		Use:   "add NAME (--cron EXPR [--tz TZ] [--data JSON] [--catch-up] | --bucket B [--events put,delete] [--prefix P] [--suffix S] | --queue URL | --http-path P [--method M] [--public] [--cors ORIGIN]... | --cloudevents [--type T] [--source S] [--subject-prefix P]...)",
		Short: "Add a trigger to a function",
		Long: `Add attaches a trigger to the function NAME; the adapters start serving it at once. Give
exactly one kind:

  --cron EXPR      a schedule: 5 fields (min hour day month weekday), 6 with seconds first,
                   or @hourly, @daily, @every 10s; --tz names its time zone (UTC by default),
                   --data the JSON the function receives, --catch-up fires once on start for
                   the latest run missed while no adapter ran (by default missed runs are skipped)
  --bucket B       object-storage events of bucket B (--events put,delete --prefix --suffix;
                   the --batch flags below too)
  --queue URL      nats://HOST:PORT/SUBJECT, jetstream://HOST:PORT/STREAM or
                   amqp://USER:PASS@HOST:PORT/QUEUE; --batch-size N hands the function up to N
                   messages at once as {"Records": [...]}, after at most --batch-window, and
                   with --report-batch-item-failures runs again only the records it names;
                   --order-key header:NAME, routing-key or subject:N runs the messages of one
                   key one at a time, in the order they came (object-key with --bucket)
  --cloudevents    the CloudEvents sent to POST /v1/events (or the bus subject sluice.events)
                   that pass every filter given: --type, --source, --subject exactly, or
                   by their start (--type-prefix ...) or end (--type-suffix ...)
  --http-path P    an HTTP route such as /orders/{id}, served under /r (e.g. /r/orders/42);
                   --method limits it to one method, --public lets callers in without the
                   token, --cors allows a browser origin (repeatable, * for any)

A bad expression or setting is refused at once. The trigger id is printed; --id chooses it
(adding the same id again replaces that trigger).`,
		Example: `  sluice trigger add report --cron "0 0 9 * * MON-FRI" --tz Europe/Paris
  sluice trigger add tick --cron "@every 10s" --data '{"job":"sweep"}'
  sluice trigger add thumbnail --bucket uploads --events put --suffix .jpg
  sluice trigger add orders --queue nats://127.0.0.1:4222/orders
  sluice trigger add orders --queue jetstream://127.0.0.1:4222/ORDERS --batch-size 100 --batch-window 1s --report-batch-item-failures
  sluice trigger add ship --cloudevents --type com.shop.order.paid --source-prefix /shop/
  sluice trigger add ledger --queue jetstream://127.0.0.1:4222/PAYMENTS --order-key header:Customer-Id
  sluice trigger add orders --http-path '/orders/{id}' --method GET --public --cors https://shop.example`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := f.trigger(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			stored, err := c.AddTrigger(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "trigger %s added to %s: %s %s\n", stored.ID, stored.Function, stored.Kind, triggerSource(stored))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.id, "id", "", "trigger id (default NAME-KIND-random)")
	fl.StringVar(&f.cron, "cron", "", "cron expression or macro")
	fl.StringVar(&f.tz, "tz", "", "time zone of --cron (IANA name; default UTC)")
	fl.StringVar(&f.data, "data", "", "JSON event data of --cron")
	fl.BoolVar(&f.catchUp, "catch-up", false, "fire once on start for the latest missed --cron run")
	fl.StringVar(&f.bucket, "bucket", "", "bucket whose object events invoke the function")
	fl.StringSliceVar(&f.events, "events", nil, "object events of --bucket: put, delete (default both)")
	fl.StringVar(&f.prefix, "prefix", "", "object key prefix of --bucket")
	fl.StringVar(&f.suffix, "suffix", "", "object key suffix of --bucket")
	fl.StringVar(&f.endpoint, "endpoint", "", "object storage of --bucket (default the node's)")
	fl.BoolVar(&f.singleRecord, "single-record", false, "hand the function the one S3 event record (the CloudEvents S3 adapter's data) instead of AWS's {\"Records\": [record]}")
	fl.BoolVar(&f.raw, "raw", false, "AWS's {\"Records\": [...]}, the default now")
	_ = fl.MarkDeprecated("raw", "bucket events are AWS's {\"Records\": [...]} by default; --single-record gives the one record")
	fl.StringVar(&f.queue, "queue", "", "queue URL")
	fl.IntVar(&f.batch, "batch", 0, "messages fetched at once from --queue")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 0, "unacknowledged messages of --queue at most")
	fl.IntVar(&f.batchSize, "batch-size", 0, "messages of --queue or object events of --bucket per invocation, as {\"Records\": [...]} (Lambda's BatchSize; 10 with --batch-window or --report-batch-item-failures alone)")
	fl.DurationVar(&f.batchWindow, "batch-window", 0, "how long a batch's first message waits for more (Lambda's MaximumBatchingWindow; default 50ms, at most 5m)")
	fl.StringVar(&f.orderKey, "order-key", "", "where a message's order key is: header:NAME, routing-key (AMQP), subject:N (NATS) or object-key (--bucket); one key's events run one at a time, in order")
	fl.BoolVar(&f.reportItemFailures, "report-batch-item-failures", false, "the function answers {\"batchItemFailures\": [{\"itemIdentifier\": ID}]}: only those records run again")
	fl.BoolVar(&f.cloudEvents, "cloudevents", false, "subscribe to the CloudEvents sent to the node (POST /v1/events, or the bus subject sluice.events) that pass the filters below")
	for _, a := range []struct {
		name                  string
		exact, prefix, suffix *string
	}{
		{"type", &f.ce.Type, &f.ce.TypePrefix, &f.ce.TypeSuffix},
		{"source", &f.ce.Source, &f.ce.SourcePrefix, &f.ce.SourceSuffix},
		{"subject", &f.ce.Subject, &f.ce.SubjectPrefix, &f.ce.SubjectSuffix},
	} {
		fl.StringVar(a.exact, a.name, "", "--cloudevents: the event's "+a.name+", exactly")
		fl.StringVar(a.prefix, a.name+"-prefix", "", "--cloudevents: the start of the event's "+a.name)
		fl.StringVar(a.suffix, a.name+"-suffix", "", "--cloudevents: the end of the event's "+a.name)
	}
	fl.StringVar(&f.httpPath, "http-path", "", "HTTP route path, e.g. /orders/{id}")
	fl.StringVar(&f.method, "method", "", "HTTP method of --http-path (default any)")
	fl.BoolVar(&f.public, "public", false, "--http-path callable without the token")
	fl.StringArrayVar(&f.cors, "cors", nil, "origin allowed by CORS on --http-path (repeatable)")
	return cmd
}

// trigger builds the spec the flags describe.
func (f triggerFlags) trigger(function string) (events.Trigger, error) {
	t := events.Trigger{ID: f.id, Function: function}
	kinds := 0
	if f.cron != "" {
		kinds++
		t.Kind = events.TriggerCron
		t.Cron = &events.CronSpec{Expr: f.cron, TZ: f.tz, CatchUp: f.catchUp}
		if f.data != "" {
			if !json.Valid([]byte(f.data)) {
				return t, usagef("--data %q is not JSON", f.data)
			}
			t.Cron.Data = []byte(f.data)
		}
	}
	if f.bucket != "" {
		kinds++
		t.Kind = events.TriggerStorage
		t.Storage = &events.StorageSpec{Bucket: f.bucket, Events: f.events, Prefix: f.prefix, Suffix: f.suffix, Endpoint: f.endpoint, SingleRecord: f.singleRecord,
			Batching: f.batching(), OrderKey: f.orderKey}
	}
	if f.queue != "" {
		kinds++
		t.Kind = events.TriggerQueue
		t.Queue = &events.QueueSpec{URL: f.queue, Batch: f.batch, MaxInFlight: f.maxInFlight, Batching: f.batching(), OrderKey: f.orderKey}
	}
	if f.httpPath != "" {
		kinds++
		t.Kind = events.TriggerHTTP
		t.HTTP = &events.HTTPSpec{Path: f.httpPath, Method: strings.ToUpper(f.method), Public: f.public, CORS: f.cors}
	}
	if f.cloudEvents {
		kinds++
		t.Kind = events.TriggerCloudEvents
		ce := f.ce
		t.CloudEvents = &ce
	}
	if kinds != 1 {
		return t, usagef("give exactly one of --cron, --bucket, --queue, --http-path and --cloudevents")
	}
	if t.Kind != events.TriggerCloudEvents && f.ce != (events.CloudEventsSpec{}) {
		return t, usagef("--type, --source, --subject and their -prefix and -suffix go with --cloudevents")
	}
	if t.Kind != events.TriggerCron && (f.tz != "" || f.data != "" || f.catchUp) {
		return t, usagef("--tz, --data and --catch-up go with --cron")
	}
	if t.Kind != events.TriggerStorage && (f.prefix != "" || f.suffix != "" || len(f.events) > 0 || f.endpoint != "" || f.raw || f.singleRecord) {
		return t, usagef("--events, --prefix, --suffix, --endpoint and --single-record go with --bucket")
	}
	if t.Kind != events.TriggerQueue && t.Kind != events.TriggerStorage && (f.batching() != nil || f.orderKey != "") {
		return t, usagef("--batch-size, --batch-window, --report-batch-item-failures and --order-key go with --queue or --bucket")
	}
	if t.Kind != events.TriggerHTTP && (f.method != "" || f.public || len(f.cors) > 0) {
		return t, usagef("--method, --public and --cors go with --http-path")
	}
	return t, nil
}

// batching is the batch the flags ask for, nil when none.
func (f triggerFlags) batching() *events.Batch {
	if f.batchSize == 0 && f.batchWindow == 0 && !f.reportItemFailures {
		return nil
	}
	size := f.batchSize
	if size == 0 {
		size = 10 // Lambda's default for a queue
	}
	return &events.Batch{Size: size, Window: events.Duration(f.batchWindow), ReportItemFailures: f.reportItemFailures}
}

func (a *app) triggerListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [NAME] [-o json]",
		Short: "List triggers (of one function) with their state",
		Long:  `List prints every trigger, or those of NAME: ID FUNCTION KIND SOURCE STATE LAST-ERROR.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("trigger list takes at most one argument: NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return show(a, cmd, output, func(ctx context.Context, c *client.Client) ([]wire.TriggerView, error) {
				ts, err := c.Triggers(ctx, name)
				if ts == nil {
					ts = []wire.TriggerView{}
				}
				return ts, err
			}, func(ts []wire.TriggerView) error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tFUNCTION\tKIND\tSOURCE\tSTATE\tLAST-ERROR")
				for _, v := range ts {
					state, lastErr := "pending", ""
					if v.Status != nil {
						state, lastErr = string(v.Status.State), v.Status.LastError
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Trigger.ID, v.Trigger.Function, v.Trigger.Kind, triggerSource(v.Trigger), state, lastErr)
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (a *app) triggerDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a trigger",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteTrigger(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deleted trigger %s\n", args[0])
			return nil
		},
	}
}

// triggerSource says in a few words where a trigger's events come from.
func triggerSource(t events.Trigger) string {
	switch {
	case t.Cron != nil:
		s := t.Cron.Expr
		if t.Cron.TZ != "" {
			s += " (" + t.Cron.TZ + ")"
		}
		return s
	case t.Storage != nil:
		return "s3://" + t.Storage.Bucket + "/" + t.Storage.Prefix + "*" + t.Storage.Suffix
	case t.Queue != nil:
		return events.RedactURL(t.Queue.URL)
	case t.HTTP != nil:
		m := t.HTTP.Method
		if m == "" {
			m = "ANY"
		}
		return m + " /r" + t.HTTP.Path
	case t.CloudEvents != nil:
		return ceFilters(*t.CloudEvents)
	}
	return ""
}

// ceFilters shows a subscription's filters: type=T source^=P subject$=S ("*" for none).
func ceFilters(s events.CloudEventsSpec) string {
	var out []string
	for _, f := range []struct{ attr, op, v string }{
		{"type", "=", s.Type}, {"type", "^=", s.TypePrefix}, {"type", "$=", s.TypeSuffix},
		{"source", "=", s.Source}, {"source", "^=", s.SourcePrefix}, {"source", "$=", s.SourceSuffix},
		{"subject", "=", s.Subject}, {"subject", "^=", s.SubjectPrefix}, {"subject", "$=", s.SubjectSuffix},
	} {
		if f.v != "" {
			out = append(out, f.attr+f.op+f.v)
		}
	}
	if len(out) == 0 {
		return "*"
	}
	return strings.Join(out, " ")
}
