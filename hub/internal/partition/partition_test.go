package partition

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// The mapping is fixed: these values must never change, or every
// partitioned stream's stored subjects would disagree with the hubs.
func TestOfGolden(t *testing.T) {
	for _, c := range []struct {
		site    string
		n, want int
	}{
		{"plant1", 4, 1}, {"plant1", 16, 9}, {"s2", 4, 0}, {"s3", 4, 3}, {"s4", 4, 2},
		{"s6", 16, 12}, {"north", 4, 0}, {"south", 16, 10}, {"anything", 1, 0},
	} {
		if got := Of(c.site, c.n); got != c.want {
			t.Errorf("Of(%q, %d) = %d, want %d", c.site, c.n, got, c.want)
		}
	}
}

// Of agrees with the server's own subject transform for many sites and counts.
func TestOfMatchesServerTransform(t *testing.T) {
	for _, n := range []int{2, 3, 4, 7, 16, 64} {
		src, dest := Transform("floorpulse.signals", n)
		tr, err := server.NewSubjectTransform(src, dest)
		if err != nil {
			t.Fatalf("transform %s -> %s: %v", src, dest, err)
		}
		for i := 0; i < 500; i++ {
			site := fmt.Sprintf("site-%d", i*7919)
			got := tr.TransformSubject("floorpulse.signals." + site + ".L1.M01")
			want := fmt.Sprintf("floorpulse.signals.%d.%s.L1.M01", Of(site, n), site)
			if got != want {
				t.Fatalf("n=%d: server maps to %s, Of says %s", n, got, want)
			}
		}
	}
}

// A real stream with the transform stores each signal under the partition Of
// computes, and a consumer filtered on Filter sees exactly its sites.
func TestStreamStoresSubjectsByPartition(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 4
	src, dest := Transform("floorpulse.signals", n)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"floorpulse.signals.>"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: src, Destination: dest}})
	if err != nil {
		t.Fatal(err)
	}
	sites := map[string]bool{}
	for i := 0; i < 60; i++ {
		site := "plant" + strconv.Itoa(i)
		sites[site] = true
		if _, err := js.Publish(ctx, "floorpulse.signals."+site+".L1.M01", []byte(site)); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for p := 0; p < n; p++ {
		c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{Filter("floorpulse.signals", p)}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 {
			t.Errorf("partition %d holds no site of 60", p)
			continue
		}
		batch, err := c.FetchNoWait(int(info.NumPending))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			site := string(m.Data())
			want := fmt.Sprintf("floorpulse.signals.%d.%s.L1.M01", p, site)
			if m.Subject() != want || Of(site, n) != p {
				t.Errorf("stored as %s in partition %d; Of(%s) = %d", m.Subject(), p, site, Of(site, n))
			}
			delete(sites, site)
			seen++
		}
	}
	if seen != 60 || len(sites) != 0 {
		t.Fatalf("saw %d messages; sites never seen: %v", seen, sites)
	}
	if !strings.HasSuffix(dest, ".>") {
		t.Fatalf("destination %s drops the line and equipment", dest)
	}
}
