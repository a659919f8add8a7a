package testenv

import (
	"strings"
	"testing"
)

func TestServersStart(t *testing.T) {
	m := StartMosquitto(t)
	m.Restart()
	n := StartNATS(t)
	n.Shutdown()
	n.Restart(t)
	in := StartInflux(t, "probe")
	if out := in.Query(t, "SHOW DATABASES"); !strings.Contains(out, "probe") {
		t.Fatalf("database not created: %s", out)
	}
}
