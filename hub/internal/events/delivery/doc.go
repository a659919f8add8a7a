// Package delivery takes anomaly event deliveries out of the outbox to
// their receivers: the JetStream stream (Stream) and webhook endpoints
// signed per Standard Webhooks (Webhook), one Worker per destination
// retrying with back-off. Its Router decides which destinations a record
// change goes to, and renders it for each.
//
// What always holds: an item is removed from the outbox only after its
// receiver accepted it (JetStream ack, webhook 2xx), so delivery is at least
// once; every attempt of an item carries the same dedupe key (Nats-Msg-Id,
// webhook-id), which the stream's duplicate window and receivers use to drop
// copies. A webhook answer that retrying cannot fix (anything but 2xx, 408,
// 429 and 5xx) and an endpoint's last allowed attempt move the item to the
// dead letters; the stream is retried forever.
package delivery
