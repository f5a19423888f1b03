module hello

go 1.22

require sluice.dev/sdk v0.0.0

// For building here; at deploy, sluice points sluice.dev/sdk at the SDK its worker ships.
replace sluice.dev/sdk => ../../runtimes/sdk/go
