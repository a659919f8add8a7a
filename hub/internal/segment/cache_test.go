package segment

import (
	"fmt"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	c := NewCache(time.Minute)
	t0 := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	c.put("2026-10", t0, Report{Month: "2026-10"})
	for at, want := range map[time.Duration]bool{0: true, 59 * time.Second: true, time.Minute: false, -time.Second: false} {
		if _, ok := c.get("2026-10", t0.Add(at)); ok != want {
			t.Errorf("%v after: cached %v, want %v", at, ok, want)
		}
	}
	if _, ok := c.get("2026-09", t0); ok {
		t.Error("a month never put is cached")
	}
	for i := range maxCached + 5 {
		c.put(fmt.Sprintf("m%d", i), t0.Add(time.Duration(i)*time.Second), Report{})
	}
	if len(c.m) != maxCached {
		t.Errorf("%d months cached, at most %d", len(c.m), maxCached)
	}
	if _, ok := c.m["m0"]; ok {
		t.Error("the oldest month was kept")
	}
}
