package benchmark

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; it
// is 100 on every Linux architecture the agent is built for.
const clockTicks = 100

// Usage is what /proc says about a process at one moment.
type Usage struct {
	CPU     time.Duration // user + system time since the process started
	PeakRSS uint64        // VmHWM: the most resident memory so far, in bytes
	RSS     uint64        // VmRSS: resident memory now, in bytes
	RSSAnon uint64        // RssAnon: the part of RSS that is heap, stacks and other private memory
	RSSFile uint64        // RssFile: the part of RSS that is mapped files (the bbolt file, the binary)
}

// ReadUsage reads the CPU time and resident memory of process pid.
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	if u.CPU, err = parseCPU(string(stat)); err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if u.PeakRSS, err = statusBytes(string(status), "VmHWM"); err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	for key, dst := range map[string]*uint64{"VmRSS": &u.RSS, "RssAnon": &u.RSSAnon, "RssFile": &u.RSSFile} {
		if *dst, err = statusBytes(string(status), key); err != nil {
			return Usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
	}
	return u, nil
}

// parseCPU returns utime + stime of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[end+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu ticks %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statusBytes returns a "Key:  123 kB" line of /proc/<pid>/status in bytes.
func statusBytes(status, key string) (uint64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected value %q", key, rest)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}
