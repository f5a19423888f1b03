// Package meters reads the meter records of SLUICE_METERS back over a period and turns them
// into what people look at: a summary (rate, percentiles, errors, cold starts, outcomes) and a
// series of fixed-width buckets for charts.
//
// Read starts at the stream position of the period's start (the server seeks it by time) and
// stops at the last record stored when it was called, so a read always ends. Aggregation is a
// pure function of the records and the period.
package meters
