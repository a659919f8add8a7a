package opcua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// What the errors and status codes the source meets mean to it.

var (
	// errLink marks a session that ended because the connection broke or
	// went unanswered: its session may live on at the server and be taken
	// over.
	errLink = errors.New("connection lost")
	// errCommit wraps a failure to commit to the queue.
	errCommit = errors.New("committing")
)

// linkError tells whether err, from a request, means the connection is
// gone (or unanswered), rather than the server refusing the request.
func linkError(err error) bool {
	var sc ua.StatusCode
	if errors.As(err, &sc) {
		switch sc {
		case ua.StatusBadSecureChannelClosed, ua.StatusBadConnectionClosed, ua.StatusBadSecureChannelIDInvalid,
			ua.StatusBadServerNotConnected, ua.StatusBadTimeout, ua.StatusBadRequestTimeout, ua.StatusBadCommunicationError:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// subscriptionLost tells whether a Publish failed because the server no
// longer has the subscription, or its session.
func subscriptionLost(err error) bool {
	var sc ua.StatusCode
	return errors.As(err, &sc) && (subscriptionGone(sc) ||
		sc == ua.StatusBadSessionIDInvalid || sc == ua.StatusBadSessionClosed || sc == ua.StatusBadSessionNotActivated)
}

// subscriptionGone tells whether the server says it has no such
// subscription.
func subscriptionGone(sc ua.StatusCode) bool {
	return sc == ua.StatusBadSubscriptionIDInvalid || sc == ua.StatusBadNoSubscription
}

// tooManyPublish tells whether the server refused a Publish request as one
// too many outstanding.
func tooManyPublish(err error) bool {
	var sc ua.StatusCode
	return errors.As(err, &sc) && sc == ua.StatusBadTooManyPublishRequests
}

// noHistoryService tells whether a HistoryRead failed because the server
// does not support the service.
func noHistoryService(err error) bool {
	var sc ua.StatusCode
	return errors.As(err, &sc) && (sc == ua.StatusBadServiceUnsupported || sc == ua.StatusBadHistoryOperationUnsupported)
}

// good reports whether a status code's severity is Good.
func good(sc ua.StatusCode) bool { return uint32(sc)&0xC0000000 == 0 }

// overflow reports whether a value's status code says that its monitored
// item's queue overflowed before it (InfoType DataValue, Overflow bit).
func overflow(sc ua.StatusCode) bool { return uint32(sc)&0xC00 == 0x400 && uint32(sc)&0x80 != 0 }

// unreadable reports the Read statuses that say the node, not its value, is
// the problem.
func unreadable(sc ua.StatusCode) bool {
	switch sc {
	case ua.StatusBadNodeIDUnknown, ua.StatusBadNodeIDInvalid, ua.StatusBadAttributeIDInvalid,
		ua.StatusBadNotReadable, ua.StatusBadUserAccessDenied:
		return true
	}
	return false
}

// noRoom reports the statuses of a monitored item refused for want of
// room at the server rather than for what it asks.
func noRoom(sc ua.StatusCode) bool {
	return sc == ua.StatusBadTooManyMonitoredItems || sc == ua.StatusBadResourceUnavailable || sc == ua.StatusBadOutOfMemory
}

// refusedLogin tells whether a connect ended with the server refusing the
// login.
func refusedLogin(err error) bool {
	return errors.Is(err, ua.StatusBadUserAccessDenied) || errors.Is(err, ua.StatusBadIdentityTokenRejected) ||
		errors.Is(err, ua.StatusBadIdentityTokenInvalid) || errors.Is(err, ua.StatusBadUserSignatureInvalid)
}

// refusedCert tells whether a connect ended with the server refusing the
// client certificate.
func refusedCert(err error) bool {
	return errors.Is(err, ua.StatusBadCertificateUntrusted) || errors.Is(err, ua.StatusBadSecurityChecksFailed) ||
		errors.Is(err, ua.StatusBadCertificateInvalid) || errors.Is(err, ua.StatusBadCertificateURIInvalid)
}

// describe explains the errors a refused connect commonly ends with; now
// is the clock of a client certificate made for it.
func describe(cfg config.OPCUA, err error, now func() time.Time) error {
	switch {
	case refusedLogin(err):
		who := "anonymous login"
		if cfg.Username != "" {
			who = fmt.Sprintf("login of user %q", cfg.Username)
		}
		return fmt.Errorf("connecting to %s: the server refused the %s (wrong user name or password?): %w", cfg.Endpoint, who, err)
	case refusedCert(err):
		thumb := ""
		if id, e := loadIdentity(cfg, now); e == nil && cfg.Secured() {
			thumb = " (SHA-1 thumbprint " + Thumbprint(id.Cert) + ")"
		}
		return fmt.Errorf("connecting to %s: the server refused the client certificate%s: add it to the server's trusted certificates: %w", cfg.Endpoint, thumb, err)
	}
	return fmt.Errorf("connecting to %s: %w", cfg.Endpoint, err)
}
