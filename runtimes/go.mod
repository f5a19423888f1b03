module sluice.dev/runtimes

go 1.26.8

replace sluice.dev/events => ../events

require golang.org/x/sys v0.49.0

replace sluice.dev/sdk => ./sdk/go

require sluice.dev/sdk v0.0.0
