package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/redact"
)

// secretKey decodes a Standard Webhooks secret (whsec_<base64>); "" is no key.
func secretKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf("secret: want whsec_ followed by base64")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature header value of a message:
// "v1," and the base64 HMAC-SHA256, under key, of "<id>.<timestamp>.<body>".
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Webhook posts items to an endpoint.
type Webhook struct {
	Endpoint Endpoint
	// Client sends the requests; it should not follow redirects.
	Client *http.Client
	// Clock is the time of the webhook-timestamp.
	Clock func() time.Time
}

var _ Sender = (*Webhook)(nil)

// Send posts one item. A 2xx answer is success; 408, 429, 5xx and transport
// errors are retried; other answers are permanent.
func (w *Webhook) Send(ctx context.Context, it ledger.Item) error {
	e := w.Endpoint
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(it.Body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, redact.Error(err))
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	ts := w.Clock().Unix()
	req.Header.Set("Content-Type", it.ContentType)
	req.Header.Set("User-Agent", "floorpulse-hub")
	req.Header.Set("webhook-id", it.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if key, _ := secretKey(e.Secret); key != nil {
		req.Header.Set("webhook-signature", Sign(key, it.ID, ts, it.Body))
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return redact.Error(err) // the error is stored and shown: the URL's query may hold a token
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(snippet))
	default:
		return fmt.Errorf("%w: %s: %s", errPermanent, resp.Status, bytes.TrimSpace(snippet))
	}
}
