package redact

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://oapi.dingtalk.com/robot/send?access_token=SECRET": "https://oapi.dingtalk.com/robot/send?…",
		"tcp://user:SECRET@broker:1883":                            "tcp://broker:1883?…",
		"nats://SECRET@127.0.0.1:4222":                             "nats://127.0.0.1:4222?…",
		"http://127.0.0.1:8086":                                    "http://127.0.0.1:8086",
		"opc.tcp://plc:4840/UA/Server":                             "opc.tcp://plc:4840/UA/Server",
		"https://h/x#SECRET":                                       "https://h/x?…",
		"tcp://us er:SECRET@broker:1883/%zz?token=SECRET":          "tcp://broker:1883/%zz?…",
		"::not a url?key=SECRET":                                   "::not a url?…",
	} {
		got := URL(in)
		if got != want || strings.Contains(got, "SECRET") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// An HTTP client's error quotes the URL; the redacted error does not, and
// still says what happened.
func TestErrorOfHTTPClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:1/robot?access_token=SECRET", nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil || !strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the client's error does not quote the URL: %v", err)
	}
	red := Error(err)
	if strings.Contains(red.Error(), "SECRET") || !strings.Contains(red.Error(), "http://127.0.0.1:1/robot?…") {
		t.Errorf("redacted error: %v", red)
	}
	if !errors.Is(red, context.DeadlineExceeded) {
		t.Errorf("the cause is lost: %v", red)
	}
	if e := errors.New("plain"); Error(e) != e {
		t.Error("an error without a URL changed")
	}
	var ue *url.Error
	if errors.As(red, &ue) {
		t.Error("the redacted error still holds the url.Error with the secret")
	}
}
