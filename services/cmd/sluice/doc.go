// Command sluice is the sluice binary. main only wires the signal context and the node package
// into cli.Run; everything else lives in the cli package, where it is tested.
package main
