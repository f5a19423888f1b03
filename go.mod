module sluice.dev

go 1.26.4

tool sluice.dev/task
