module sluice.dev/bench

go 1.26.8

replace sluice.dev/events => ../events

replace sluice.dev/services => ../services

replace sluice.dev/runtimes => ../runtimes

replace sluice.dev/adapters => ../adapters

require (
	github.com/nats-io/nats.go v1.55.0
	golang.org/x/sys v0.49.0
	sluice.dev/events v0.0.0
	sluice.dev/runtimes v0.0.0
	sluice.dev/sdk v0.0.0
)

require (
	github.com/cloudevents/sdk-go/v2 v2.16.2 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)

replace sluice.dev/sdk => ../runtimes/sdk/go
