// Package rawio reads and writes file descriptors with system calls the Go scheduler does not
// see, for the short non-blocking reads and writes on an invocation's path: a Runtime API
// connection, a bus connection, an instance's output pipe, a cgroup file.
//
// Through net.Conn or os.File, each read and write enters the scheduler's system-call state. When
// every P of the process was idle, as a worker's is between events, that wakes the runtime's
// sysmon thread out of its sleep, and sysmon then polls every 20 µs until the process is idle
// again; a loopback write that outlasts a poll also has its P handed to another thread. A raw
// system call on a non-blocking descriptor never blocks, so it needs neither: a socket that would
// block still waits on the netpoller, and deadlines hold as they do for net.Conn. A call that may
// block for long (opening a file, starting a process) must still go through the scheduler.
//
// The race detector does not see what passes through these calls, so it does not order a write
// on one side of a connection before the read on the other; tests that rely on that order must
// synchronise otherwise.
//
// Off Linux, Conn and Dialer hand back the ordinary connection; Read, ReadAtStart and
// WriteAtStart are Linux's alone.
package rawio
