module sluice.dev/runtimes

go 1.26.8

replace sluice.dev/events => ../events

replace sluice.dev/sdk => ./sdk/go

require (
	github.com/elastic/go-seccomp-bpf v1.6.0
	golang.org/x/net v0.61.0
	golang.org/x/sys v0.49.0
	sluice.dev/events v0.0.0
	sluice.dev/sdk v0.0.0
)
