module sluice.dev/adapters

go 1.26.8

replace sluice.dev/events => ../events

require sluice.dev/events v0.0.0
