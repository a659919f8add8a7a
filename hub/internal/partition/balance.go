package partition

import (
	"hash/fnv"
	"sort"
)

// view is what the lease bucket said at one moment.
type view struct {
	hubs   map[string][]byte // live hubs (heartbeat keys) and their heartbeat values
	owners []string          // per partition: the holder's hub id, "" when free
}

// plan decides what a hub does next, given a view of the bucket and the
// partitions it holds (releasing ones excluded): which free partitions to
// try to acquire, and which held one to give back (-1: none). Hubs acquire
// free partitions up to floor(count/live), and up to ceil(count/live) once
// every other live hub has its floor; a hub above ceil, or the most loaded
// hub while another is below its floor and nothing is free, gives one back.
// Every hub plans from the same bucket, so the hubs converge on a spread
// where each holds floor or ceil partitions.
func plan(self string, count int, v view, held []int, releasing bool) (acquire []int, release int) {
	live := len(v.hubs)
	if _, ok := v.hubs[self]; !ok {
		live++
	}
	floor, share := count/live, (count+live-1)/live
	load := map[string]int{}
	var free []int
	for p, o := range v.owners {
		switch {
		case o == "":
			free = append(free, p)
		case o != self:
			if _, ok := v.hubs[o]; ok {
				load[o]++
			}
		}
	}
	for h := range v.hubs {
		if _, ok := load[h]; !ok && h != self {
			load[h] = 0 // a live hub holding nothing
		}
	}
	mine := len(held)
	starved := false // some other live hub is below its floor
	for _, n := range load {
		if n < floor {
			starved = true
		}
	}
	release = -1
	want := 0
	switch {
	case mine < floor:
		want = floor - mine
	case mine < share && !starved:
		want = share - mine
	}
	if want > 0 && !releasing {
		rotate(free, self)
		if len(free) > want {
			free = free[:want]
		}
		acquire = free
	}
	if releasing || len(held) == 0 {
		return acquire, release
	}
	sorted := append([]int(nil), held...)
	sort.Ints(sorted)
	last := sorted[len(sorted)-1]
	if mine > share {
		return acquire, last
	}
	if mine > floor && starved && len(free) == 0 && mostLoaded(self, mine, load) {
		return acquire, last
	}
	return acquire, release
}

// mostLoaded reports whether self holds the most partitions of all live
// hubs, ties going to the smallest id, so that only one hub gives back.
func mostLoaded(self string, mine int, load map[string]int) bool {
	for h, n := range load {
		if n > mine || (n == mine && h < self) {
			return false
		}
	}
	return true
}

// rotate orders free partitions starting at a point that depends on the hub
// id, so that hubs starting together mostly try different partitions first.
func rotate(free []int, self string) {
	if len(free) < 2 {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(self))
	k := int(h.Sum32() % uint32(len(free)))
	out := append(append([]int(nil), free[k:]...), free[:k]...)
	copy(free, out)
}
