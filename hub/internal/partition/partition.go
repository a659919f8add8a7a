// Package partition spreads the hub's work over several hub instances with
// NATS JetStream only: no home-made cluster.
//
// Equipment is partitioned by site. The signals stream's subject transform
// (a server-side mapping with NATS's partition() function) rewrites every
// subject prefix.<site>.<line>.<equipment> to prefix.<p>.<site>.<line>.<equipment>,
// where p = FNV-1a(site) mod count; Of computes the same number on the client.
// Each partition has one durable pull consumer filtered on prefix.<p>.>.
//
// Ownership lives in a JetStream KeyValue bucket whose entries expire after
// the lease TTL: a hub consumes a partition only while it holds the key
// "partition.<p>" (Create to acquire, Update with the last revision to renew,
// every TTL/3); every hub also keeps a heartbeat key "hub.<id>". A hub takes
// free partitions up to its fair share, ceil(count / live hubs), and gives
// one back at a time when it holds more than its share, so that a hub that
// joins gets work and a hub that dies (its keys expire) has its partitions
// taken over. What always holds: a partition's lease has at most one holder
// (the KV revision check), and a holder stops using a lease before the
// server can expire it (Lease.Valid).
package partition

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Of returns the partition of a site among count partitions: the FNV-1a
// 32-bit hash of the site name modulo count, which is what the NATS server's
// {{partition(count,1)}} mapping computes for a subject whose first
// wildcard token is the site.
func Of(site string, count int) int {
	if count <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(site))
	return int(h.Sum32() % uint32(count))
}

// Transform returns the source and destination of the signals stream's
// subject transform for count partitions: prefix.<site>.<rest> is stored as
// prefix.<partition>.<site>.<rest>.
func Transform(prefix string, count int) (src, dest string) {
	return prefix + ".*.>", prefix + ".{{partition(" + strconv.Itoa(count) + ",1)}}.{{wildcard(1)}}.>"
}

// Filter is the subject filter of partition p's messages in the stream.
func Filter(prefix string, p int) string {
	return prefix + "." + strconv.Itoa(p) + ".>"
}

// Consumer is the name of partition p's durable consumer.
func Consumer(base string, p int) string { return fmt.Sprintf("%s-p%d", base, p) }

// Object is the name of partition p's state snapshot in the object store.
func Object(p int) string { return fmt.Sprintf("partition-%d", p) }

// LeaseBucket and StateBucket are the KeyValue and object store buckets that
// go with a signals stream.
func LeaseBucket(stream string) string { return stream + "_HUBS" }

// StateBucket is the object store bucket of the partitions' state snapshots.
func StateBucket(stream string) string { return stream + "_STATE" }

// MasterDataStream is the stream of master data changes shared by the hubs
// of a signals stream; MasterDataSubjects is the subject prefix of its
// messages (one subject per record).
func MasterDataStream(stream string) string { return stream + "_MASTERDATA" }

// MasterDataSubjects is the subject prefix of MasterDataStream's messages.
func MasterDataSubjects(stream string) string { return "floorpulse.masterdata." + stream }

// ActionBucket is the KeyValue bucket of the actions shared by the hubs of
// a signals stream.
func ActionBucket(stream string) string { return stream + "_ACTIONS" }

func leaseKey(p int) string   { return "partition." + strconv.Itoa(p) }
func hubKey(id string) string { return "hub." + id }
func isLeaseKey(k string) bool {
	return len(k) > len("partition.") && k[:len("partition.")] == "partition."
}
func isHubKey(k string) bool { return len(k) > len("hub.") && k[:len("hub.")] == "hub." }
func leaseOf(k string) (int, bool) {
	if !isLeaseKey(k) {
		return 0, false
	}
	p, err := strconv.Atoi(k[len("partition."):])
	return p, err == nil && p >= 0
}
