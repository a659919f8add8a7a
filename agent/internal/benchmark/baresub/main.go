// Command baresub is the benchmark's bare subscriber: a paho client with its
// defaults that subscribes at QoS 1, lets paho acknowledge each message as
// its handler returns, and does nothing with a message but count it. It
// prints "subscribed" once the broker granted the subscription and
// "received N" when N messages have arrived, then waits to be stopped.
//
// It is a process of its own, as the agent is, so the two are measured alike.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:1883", "broker URL")
	filter := flag.String("filter", "#", "topic filter")
	n := flag.Int64("n", 0, "messages to wait for")
	flag.Parse()
	if err := run(*broker, *filter, *n); err != nil {
		fmt.Fprintln(os.Stderr, "baresub:", err)
		os.Exit(1)
	}
}

func run(broker, filter string, n int64) error {
	var received atomic.Int64
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("bench-bare").
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {
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
