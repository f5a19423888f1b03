// Package billing prices what functions used over a period, as a bill of requests and
// GB-seconds per function and in total.
//
// Usage is counted from meter records: one request per record (every attempt, retries
// included, as AWS Lambda bills them), and billed milliseconds × memory MB summed as integers.
// GB-seconds are converted from that integer once, so a bill reconciles exactly with the
// records it was made from. Amounts are rounded to 1e-12 USD. The free tier applies to the
// total only; per-function costs are before it.
package billing
