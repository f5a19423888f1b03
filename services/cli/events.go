package cli

import (
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

func (a *app) eventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events send",
		Short: "Send CloudEvents to the node's subscriptions",
	}
	cmd.AddCommand(a.eventsSendCmd())
	return cmd
}

func (a *app) eventsSendCmd() *cobra.Command {
	var typ, source, subject, id, data, output string
	cmd := &cobra.Command{
		Use:   "send --type T [--source S] [--subject X] [--id ID] [--data JSON] [-o json]",
		Short: "Send a CloudEvent; the functions whose subscriptions it passes run it",
		Long: `Send posts one CloudEvent to the node (POST /v1/events), as any producer may, and prints
the invocation each subscription it passed made of it (sluice trigger add --cloudevents). The id
is random unless --id gives one; the same event sent again runs once per subscription.`,
		Example: `  sluice events send --type com.shop.order.paid --source /shop/eu --subject orders/42 --data '{"order": 42}'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if typ == "" {
				return usagef("--type is required")
			}
			asJSON, err := checkOutput(output)
			if err != nil {
				return err
			}
			ev := event.New()
			ev.SetID(cmp.Or(id, uuid.NewString()))
			ev.SetType(typ)
			ev.SetSource(source)
			ev.SetSubject(subject)
			if data != "" {
				if !json.Valid([]byte(data)) {
					return usagef("--data %q is not JSON", data)
				}
				if err := ev.SetData(event.ApplicationJSON, json.RawMessage(data)); err != nil {
					return usagef("--data: %v", err)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ans, err := c.SendEvent(cmd.Context(), ev)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(ans)
			}
			for _, e := range ans.Events {
				if e.Dropped != "" {
					fmt.Fprintf(a.stdout, "event %s dropped: %s\n", e.ID, e.Dropped)
					continue
				}
				if len(e.Invocations) == 0 {
					fmt.Fprintf(a.stdout, "event %s passed no subscription\n", e.ID)
				}
				for _, inv := range e.Invocations {
					fmt.Fprintf(a.stdout, "event %s -> %s (trigger %s): invocation %s\n", e.ID, inv.Function, inv.Trigger, inv.ID)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "the event's type, e.g. com.shop.order.paid")
	fl.StringVar(&source, "source", "/sluice/cli", "the event's source")
	fl.StringVar(&subject, "subject", "", "the event's subject")
	fl.StringVar(&id, "id", "", "the event's id (default random)")
	fl.StringVar(&data, "data", "", "the event's data, JSON")
	outputFlag(cmd, &output)
	return cmd
}
