package mqtt

import (
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// outboundStore is paho's memory store for what the agent sends only. paho
// stores every QoS 1 and 2 message it receives until it is acknowledged,
// in memory, and after a reconnect drops it again (QoS 1) or answers a
// stored PUBREL (QoS 2) that the broker, keeping the session, sends again
// anyway. The broker redelivers whatever the agent has not acknowledged, so
// received messages are not kept: two map operations and a lock fewer per
// message. Subscriptions and publications of the agent are kept as paho
// keeps them.
type outboundStore struct{ *paho.MemoryStore }

func newOutboundStore() outboundStore { return outboundStore{paho.NewMemoryStore()} }

// inbound reports whether key is one paho gives a received packet ("i.<id>").
func inbound(key string) bool { return strings.HasPrefix(key, "i.") }

func (s outboundStore) Put(key string, m packets.ControlPacket) {
	if !inbound(key) {
		s.MemoryStore.Put(key, m)
	}
}

func (s outboundStore) Del(key string) {
	if !inbound(key) {
		s.MemoryStore.Del(key)
	}
}
