package wire

// Headers of the invocation API (POST /v1/functions/{name}/invocations) and of function URLs and
// HTTP routes.
const (
	HeaderInvocationType = "X-Sluice-Invocation-Type" // InvocationEvent for an asynchronous call
	HeaderInvocationID   = "X-Sluice-Invocation-Id"
	HeaderOutcome        = "X-Sluice-Outcome"
	HeaderFunctionError  = "X-Sluice-Function-Error"
	HeaderVersion        = "X-Sluice-Version" // the version that ran, or will run
)

// InvocationEvent is the HeaderInvocationType of an asynchronous call.
const InvocationEvent = "Event"

// Accepted is the answer (202) of an asynchronous call; GET /v1/invocations/{id} reads its
// record (an events.Result).
type Accepted struct {
	InvocationID string `json:"invocationId"`
}
