//go:build race

package visualizer

// raceEnabled: under the race detector everything runs several times
// slower; load tests scale down so that their readers keep up.
const raceEnabled = true
