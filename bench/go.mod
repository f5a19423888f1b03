module sluice.dev/bench

go 1.26.8

replace sluice.dev/events => ../events

replace sluice.dev/services => ../services

replace sluice.dev/runtimes => ../runtimes

replace sluice.dev/adapters => ../adapters
