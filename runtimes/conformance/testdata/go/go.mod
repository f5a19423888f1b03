module conformance

go 1.22

require sluice.dev/sdk v0.0.0
