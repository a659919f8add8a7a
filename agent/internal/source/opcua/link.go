package opcua

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/backoff"
	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// The source keeps its sessions itself (CreateSession, ActivateSession,
// CloseSession) and uses gopcua's client for the secure channel only: a
// session must outlive its connection (taken over by the next) and the
// agent's process (resumed after a restart), and gopcua's session cannot be
// kept or rebuilt outside its client.

// requester sends a request and hands the answer to h: a link, or a gopcua
// client whose own session carries the request.
type requester interface {
	Send(ctx context.Context, req ua.Request, h func(ua.Response) error) error
}

// identity is the login a session is activated with.
type identity struct {
	userName  bool   // user name and password; anonymous otherwise
	policyID  string // the user token policy's id ("": the server's anonymous policy)
	policyURI string // the security policy the password is encrypted with ("": the channel's)
	user      string
	password  string
}

// uaSession is a session at the server: what its activation on a secure
// channel takes.
type uaSession struct {
	Token       *ua.NodeID    // authentication token
	ServerNonce []byte        // the server's last nonce, signed by the next activation
	ServerCert  []byte        // the certificate the server named in CreateSession
	Timeout     time.Duration // how long the server keeps it without a connection
	ident       identity
}

// read sends a Read request: gopcua's encoder needs each node's
// DataEncoding (empty: the default), and a value whose extension object
// the client cannot decode is marked BadDataTypeIdUnknown, as gopcua's
// client does.
func read(ctx context.Context, c requester, req *ua.ReadRequest) (*ua.ReadResponse, error) {
	r := &ua.ReadRequest{MaxAge: req.MaxAge, TimestampsToReturn: req.TimestampsToReturn, NodesToRead: make([]*ua.ReadValueID, len(req.NodesToRead))}
	for i, rv := range req.NodesToRead {
		rc := *rv
		if rc.AttributeID == 0 {
			rc.AttributeID = ua.AttributeIDValue
		}
		if rc.DataEncoding == nil {
			rc.DataEncoding = &ua.QualifiedName{}
		}
		r.NodesToRead[i] = &rc
	}
	res, err := send[*ua.ReadResponse](ctx, c, r)
	if err != nil {
		return nil, err
	}
	for _, dv := range res.Results {
		if dv == nil || dv.Value == nil {
			continue
		}
		if eo, ok := dv.Value.Value().(*ua.ExtensionObject); ok && eo.Value == nil {
			dv.Status = ua.StatusBadDataTypeIDUnknown
		}
	}
	return res, nil
}

// send sends req and returns the server's answer as the response type R.
func send[R ua.Response](ctx context.Context, c requester, req ua.Request) (R, error) {
	var res R
	err := c.Send(ctx, req, func(v ua.Response) error {
		r, ok := v.(R)
		if !ok {
			return fmt.Errorf("unexpected response %T", v)
		}
		res = r
		return nil
	})
	return res, err
}

// link is a secure channel, and the session activated on it, whose token
// its requests carry. A session taken over by a new channel gets a new
// link.
type link struct {
	c    *opcua.Client
	sess *uaSession
}

// Send sends req in the link's session.
func (l *link) Send(ctx context.Context, req ua.Request, h func(ua.Response) error) error {
	sc := l.c.SecureChannel()
	if sc == nil {
		return ua.StatusBadServerNotConnected
	}
	return sc.SendRequest(ctx, req, l.sess.Token, func(r ua.Response) error { return h(r) })
}

// dial opens a secure channel to the server with opts.
func dial(ctx context.Context, cfg config.OPCUA, opts []opcua.Option) (c *opcua.Client, err error) {
	defer func() {
		if r := recover(); r != nil { // gopcua has nil dereferences on some refused channels
			err = fmt.Errorf("opc ua client failed: %v", r)
		}
	}()
	c, err = opcua.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Dial(dctx); err != nil {
		closeClient(c)
		return nil, err
	}
	return c, nil
}

// open dials the server and creates and activates a new session; now is
// the clock of a client certificate made for it.
func open(ctx context.Context, cfg config.OPCUA, opts []opcua.Option, ident identity, timeout time.Duration, now func() time.Time) (*link, error) {
	c, err := dial(ctx, cfg, opts)
	if err != nil {
		return nil, describe(cfg, err, now)
	}
	l := &link{c: c}
	if l.sess, err = createSession(ctx, c, cfg, ident, timeout, now); err == nil {
		err = l.activate(ctx)
	}
	if err != nil {
		l.close()
		return nil, describe(cfg, err, now)
	}
	return l, nil
}

// createSession creates a session (not yet activated) on c's channel.
func createSession(ctx context.Context, c *opcua.Client, cfg config.OPCUA, ident identity, timeout time.Duration, now func() time.Time) (*uaSession, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	req, err := sessionRequest(cfg, nonce, timeout, now)
	if err != nil {
		return nil, err
	}
	var res *ua.CreateSessionResponse
	err = c.SecureChannel().SendRequest(ctx, req, nil, func(v ua.Response) error {
		r, ok := v.(*ua.CreateSessionResponse)
		if !ok {
			return fmt.Errorf("unexpected response %T", v)
		}
		res = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkSession(c, cfg, ident, nonce, res); err != nil {
		return nil, err
	}
	if !ident.userName && ident.policyID == "" {
		ident.policyID = anonymousPolicyID(res.ServerEndpoints)
	}
	return &uaSession{Token: res.AuthenticationToken, ServerNonce: res.ServerNonce, ServerCert: res.ServerCertificate,
		Timeout: time.Duration(res.RevisedSessionTimeout * float64(time.Millisecond)), ident: ident}, nil
}

// sessionRequest is the CreateSession request of a session with the
// client nonce and the requested timeout.
func sessionRequest(cfg config.OPCUA, nonce []byte, timeout time.Duration, now func() time.Time) (*ua.CreateSessionRequest, error) {
	var cert []byte
	if cfg.Secured() {
		id, err := loadIdentity(cfg, now)
		if err != nil {
			return nil, err
		}
		cert = id.Cert
	}
	return &ua.CreateSessionRequest{
		ClientDescription: &ua.ApplicationDescription{
			ApplicationURI:  cfg.ApplicationURI,
			ProductURI:      productURI,
			ApplicationName: ua.NewLocalizedText(applicationName),
			ApplicationType: ua.ApplicationTypeClient,
		},
		EndpointURL:             cfg.Endpoint,
		SessionName:             applicationName,
		ClientNonce:             nonce,
		ClientCertificate:       cert,
		RequestedSessionTimeout: float64(timeout / time.Millisecond),
	}, nil
}

// checkSession checks the server's answer to CreateSession: its signature
// of the client nonce and, when it matters, the certificate it names.
func checkSession(c *opcua.Client, cfg config.OPCUA, ident identity, nonce []byte, res *ua.CreateSessionResponse) error {
	sig := []byte(nil)
	if res.ServerSignature != nil {
		sig = res.ServerSignature.Signature
	}
	if err := c.SecureChannel().VerifySessionSignature(res.ServerCertificate, nonce, sig); err != nil {
		return fmt.Errorf("the server's session signature does not verify: %w", err)
	}
	if cfg.Secured() || ident.userName {
		// The password is encrypted for this certificate: over a channel
		// with policy None, nothing else has checked it.
		if err := checkTrust(cfg, res.ServerCertificate); err != nil {
			return fmt.Errorf("the certificate the server named in CreateSession: %w", err)
		}
	}
	return nil
}

// anonymousPolicyID is the policy id of the anonymous login the server
// offers on its unsecured endpoint.
func anonymousPolicyID(eps []*ua.EndpointDescription) string {
	for _, e := range eps {
		if e.SecurityMode != ua.MessageSecurityModeNone || e.SecurityPolicyURI != ua.SecurityPolicyURINone {
			continue
		}
		for _, t := range e.UserIdentityTokens {
			if t.TokenType == ua.UserTokenTypeAnonymous {
				return t.PolicyID
			}
		}
	}
	return "Anonymous"
}

// activate activates the link's session on its channel: a new session, or
// one taken over from another channel. The activation is signed with the
// client certificate over the server's certificate and last nonce, and
// carries the login, the password encrypted for that nonce.
func (l *link) activate(ctx context.Context) error {
	sc := l.c.SecureChannel()
	s := l.sess
	sig, sigAlg, err := sc.NewSessionSignature(s.ServerCert, s.ServerNonce)
	if err != nil {
		return fmt.Errorf("signing the session activation: %w", err)
	}
	var tok any = &ua.AnonymousIdentityToken{PolicyID: s.ident.policyID}
	if s.ident.userName {
		pass, alg, err := sc.EncryptUserPassword(s.ident.policyURI, s.ident.password, s.ServerCert, s.ServerNonce)
		if err != nil {
			return fmt.Errorf("encrypting the password: %w", err)
		}
		tok = &ua.UserNameIdentityToken{PolicyID: s.ident.policyID, UserName: s.ident.user, Password: pass, EncryptionAlgorithm: alg}
	}
	req := &ua.ActivateSessionRequest{
		ClientSignature:    &ua.SignatureData{Algorithm: sigAlg, Signature: sig},
		UserIdentityToken:  ua.NewExtensionObject(tok),
		UserTokenSignature: &ua.SignatureData{},
	}
	res, err := send[*ua.ActivateSessionResponse](ctx, l, req)
	if err != nil {
		return err
	}
	s.ServerNonce = res.ServerNonce
	return nil
}

// close closes the session, deleting its subscription, and the channel.
func (l *link) close() {
	if l.sess != nil && l.c.SecureChannel() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = send[*ua.CloseSessionResponse](cctx, l, &ua.CloseSessionRequest{DeleteSubscriptions: true})
		cancel()
	}
	closeClient(l.c)
}

// takeOver activates the link's session on a new channel, and returns the
// new link (the old one's channel is closed, the session left as it is),
// retrying with back-off while the server is unreachable, for as long as
// the server keeps the session. It fails when the server no longer has the
// session, or the time is up.
func (s *Source) takeOver(ctx context.Context, old *link, opts []opcua.Option) (*link, error) {
	closeClient(old.c)
	deadline := s.now().Add(max(old.sess.Timeout, time.Second))
	wait := s.minBackoff
	for {
		c, err := dial(ctx, s.cfg, opts)
		if err == nil {
			l := &link{c: c, sess: old.sess}
			if err = l.activate(ctx); err == nil {
				return l, nil
			}
			closeClient(c)
		}
		if !linkError(err) || ctx.Err() != nil {
			return nil, err
		}
		d := backoff.Jitter(wait)
		if s.now().Add(d).After(deadline) {
			return nil, fmt.Errorf("the server stayed unreachable for the session's timeout: %w", err)
		}
		s.warn.Warn("taking the session over to a new connection failed, retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return nil, ctx.Err()
		}
		wait = min(2*wait, s.maxBackoff)
	}
}

// closeClient closes c's secure channel.
func closeClient(c *opcua.Client) {
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Close(cctx)
}

// Connect opens the secure channel and activates the session, turning
// gopcua's errors into ones that say what to do. A panic inside gopcua
// (it has nil dereferences on some refused sessions) becomes an error.
func Connect(ctx context.Context, c *opcua.Client, cfg config.OPCUA) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("connecting to %s: opc ua client failed: %v", cfg.Endpoint, r)
		}
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Close(cctx)
		}
	}()
	if err := c.Connect(ctx); err != nil {
		return describe(cfg, err, time.Now)
	}
	return nil
}
