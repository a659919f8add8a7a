// Command baresub is the benchmark's bare subscriber: a paho client with its
// defaults that subscribes at QoS 1, lets paho acknowledge each message as
// its handler returns, and does nothing with a message but count it. It
// prints "subscribed" once the broker granted the subscription and
// "received N" when N messages have arrived, then waits to be stopped.
//
// With -nats it is also a direct forwarder, written the plain way: paho's
// handler publishes each message to the stream (with a message id and a
// reply subject for the stream's ack, as the agent publishes); nothing is
// kept on disk and the broker's ack does not wait for the stream's.
//
// It is a process of its own, as the agent is, so the two are measured alike.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
)

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:1883", "broker URL")
	filter := flag.String("filter", "#", "topic filter")
	n := flag.Int64("n", 0, "messages to wait for")
	natsURL := flag.String("nats", "", "forward each message to JetStream at this URL")
	subject := flag.String("subject", "floorpulse.signals.bench", "subject to forward to")
	flag.Parse()
	if err := run(*broker, *filter, *n, *natsURL, *subject); err != nil {
		fmt.Fprintln(os.Stderr, "baresub:", err)
		os.Exit(1)
	}
}

func run(broker, filter string, n int64, natsURL, subject string) error {
	var received atomic.Int64
	var forward func(paho.Message)
	if natsURL != "" {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		defer nc.Close()
		inbox := nc.NewRespInbox()
		var acks atomic.Int64
		if _, err := nc.Subscribe(inbox, func(*nats.Msg) { acks.Add(1) }); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		forward = func(m paho.Message) {
			id := strconv.FormatUint(uint64(received.Load()), 10)
			_ = nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Data: m.Payload(), Header: nats.Header{nats.MsgIdHdr: []string{id}}})
		}
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("bench-bare").
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		if forward != nil {
			forward(m)
		}
		if received.Add(1) == n {
			fmt.Printf("received %d\n", n)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscribing to %s: %v", filter, tok.Error())
	}
	fmt.Println("subscribed")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	return nil
}
