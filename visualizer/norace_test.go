//go:build !race

package visualizer

const raceEnabled = false
