package node

import "strconv"

// Procs is the GOMAXPROCS a sluice process runs with, given the GOMAXPROCS environment variable
// and the CPUs the Go runtime would use by default (runtime.GOMAXPROCS(0), which counts the
// process's CPU limit): the variable when it holds a positive number, else half the CPUs,
// rounded up.
//
// A node's own work is a chain of hand-offs between goroutines (a request, an event, the
// Runtime API's exchange, a store and its acknowledgement), each short. With more Ps than busy
// goroutines, the runtime wakes an idle thread at every hand-off to look for work to steal, and
// finds none: a futex wake and a context switch each time, on the call's path. The other half of
// the CPUs is where the instances run the functions, in their own processes.
func Procs(env string, available int) int {
	if n, err := strconv.Atoi(env); err == nil && n > 0 {
		return n
	}
	return max(1, (available+1)/2)
}
