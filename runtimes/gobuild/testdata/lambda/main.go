// A function written for AWS Lambda with aws-lambda-go, unchanged.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type Event struct {
	Do   string `json:"do"`
	Name string `json:"name"`
}

type Answer struct {
	Greeting     string `json:"greeting"`
	RequestID    string `json:"requestId"`
	FunctionName string `json:"functionName"`
	ARN          string `json:"arn"`
	HasDeadline  bool   `json:"hasDeadline"`
	Memory       int    `json:"memory"`
}

type QuotaError struct{ Left int }

func (e *QuotaError) Error() string { return fmt.Sprintf("quota exhausted, %d left", e.Left) }

func handle(ctx context.Context, ev Event) (*Answer, error) {
	switch ev.Do {
	case "fail":
		return nil, &QuotaError{Left: 0}
	case "bigfail":
		return nil, fmt.Errorf("%s", strings.Repeat("e", 20000))
	case "panic":
		panic("it fell over")
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, ok := ctx.Deadline()
	return &Answer{
		Greeting:     "Hello, " + ev.Name,
		RequestID:    lc.AwsRequestID,
		FunctionName: lambdacontext.FunctionName,
		ARN:          lc.InvokedFunctionArn,
		HasDeadline:  ok && time.Until(dl) > 0,
		Memory:       lambdacontext.MemoryLimitInMB,
	}, nil
}

func main() {
	fmt.Fprintln(os.Stderr, "starting")
	lambda.Start(handle)
}
