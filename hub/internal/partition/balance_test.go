package partition

import (
	"fmt"
	"sort"
	"testing"
)

func TestPlan(t *testing.T) {
	hubs := func(ids ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, id := range ids {
			m[id] = nil
		}
		return m
	}
	for _, c := range []struct {
		name      string
		self      string
		count     int
		hubs      map[string][]byte
		owners    []string
		held      []int
		releasing bool
		acquire   string // sorted
		release   int
	}{
		{"alone takes everything", "A", 4, hubs("A"), []string{"", "", "", ""}, nil, false, "[0 1 2 3]", -1},
		{"a joining hub makes the full one give back", "A", 4, hubs("A", "B"), []string{"A", "A", "A", "A"}, []int{0, 1, 2, 3}, false, "[]", 3},
		{"the joining hub waits for free partitions", "B", 4, hubs("A", "B"), []string{"A", "A", "A", "A"}, nil, false, "[]", -1},
		{"the joining hub takes its floor", "B", 4, hubs("A", "B"), []string{"A", "A", "", ""}, nil, false, "[2 3]", -1},
		{"balanced stays", "A", 4, hubs("A", "B"), []string{"A", "B", "A", "B"}, []int{0, 2}, false, "[]", -1},
		{"most loaded gives back for a starved hub", "A", 4, hubs("A", "B", "C"), []string{"A", "A", "B", "B"}, []int{0, 1}, false, "[]", 1},
		{"tie: the larger id keeps its partitions", "B", 4, hubs("A", "B", "C"), []string{"A", "A", "B", "B"}, []int{2, 3}, false, "[]", -1},
		{"at floor, a hub leaves the free one to the starved", "A", 4, hubs("A", "B", "C"), []string{"A", "", "B", "B"}, []int{0}, false, "[]", -1},
		{"the starved hub takes it", "C", 4, hubs("A", "B", "C"), []string{"A", "", "B", "B"}, nil, false, "[1]", -1},
		{"3 of 4 with ceil share: nobody moves", "B", 4, hubs("A", "B", "C"), []string{"A", "C", "B", "B"}, []int{2, 3}, false, "[]", -1},
		{"a dead hub's leases wait for expiry", "A", 4, hubs("A"), []string{"X", "X", "", ""}, nil, false, "[2 3]", -1},
		{"one hand-over at a time", "A", 4, hubs("A", "B"), []string{"A", "A", "A", "A"}, []int{0, 1, 2}, true, "[]", -1},
		{"more hubs than partitions", "C", 2, hubs("A", "B", "C"), []string{"A", "B"}, nil, false, "[]", -1},
		{"more hubs than partitions, one free", "C", 2, hubs("A", "B", "C"), []string{"A", ""}, nil, false, "[1]", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			acq, rel := plan(c.self, c.count, view{hubs: c.hubs, owners: c.owners}, c.held, c.releasing)
			sort.Ints(acq)
			if fmt.Sprint(acq) != c.acquire || rel != c.release {
				t.Fatalf("plan = acquire %v, release %d; want %s, %d", acq, rel, c.acquire, c.release)
			}
		})
	}
}

// Hubs that plan from the same bucket converge on an even spread.
func TestPlanConverges(t *testing.T) {
	for _, c := range []struct{ count, hubs int }{{4, 2}, {4, 3}, {8, 3}, {16, 5}, {3, 4}, {1, 2}} {
		t.Run(fmt.Sprintf("%d over %d", c.count, c.hubs), func(t *testing.T) {
			owners := make([]string, c.count)
			live := map[string][]byte{}
			var ids []string
			for i := 0; i < c.hubs; i++ {
				id := fmt.Sprintf("h%d", i)
				ids = append(ids, id)
				live[id] = nil
			}
			// The first hub starts alone and takes everything; then the rest join.
			for p := range owners {
				owners[p] = ids[0]
			}
			for round := 0; round < 50; round++ {
				moved := false
				for _, id := range ids { // each hub acts on the bucket as it finds it
					var held []int
					for p, o := range owners {
						if o == id {
							held = append(held, p)
						}
					}
					acq, rel := plan(id, c.count, view{hubs: live, owners: append([]string(nil), owners...)}, held, false)
					if rel >= 0 {
						owners[rel] = ""
						moved = true
					}
					for _, p := range acq {
						if owners[p] == "" {
							owners[p] = id
							moved = true
						}
					}
				}
				if !moved {
					break
				}
			}
			load := map[string]int{}
			for p, o := range owners {
				if o == "" {
					t.Fatalf("partition %d left free: %v", p, owners)
				}
				load[o]++
			}
			floor, ceil := c.count/c.hubs, (c.count+c.hubs-1)/c.hubs
			for _, id := range ids {
				if load[id] < floor || load[id] > ceil {
					t.Fatalf("%s holds %d, want %d..%d: %v", id, load[id], floor, ceil, owners)
				}
			}
		})
	}
}
