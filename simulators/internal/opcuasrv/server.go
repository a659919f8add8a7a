// Package opcuasrv serves the simulated machines of OPC UA lines from a
// gopcua server.
//
// Address space: the namespace "urn:floorpulse:simulator" gets index 1 (the
// first after the standard namespace 0; the server adds no others). Under
// Objects it holds folders <site>/<line>/<equipment>/ with one variable per
// signal, node id ns=1;s=<site>.<line>.<equipment>.<signal>, for example
// ns=1;s=plant1.L3.M01.run. Endpoints: security None, and Basic256Sha256 with
// Sign and with SignAndEncrypt (a self-signed certificate made at start);
// anonymous login. The server's clock (Server/ServerStatus/CurrentTime)
// notifies its monitored items every second. HistoryRead of raw values
// returns the values set since the server started (history.go).
//
// What always holds: a value is a DataValue with status Good, SourceTimestamp
// the event's time and ServerTimestamp the time it was set, and every set
// notifies the monitored items of that node. gopcua keeps only the latest
// value per monitored item within a publishing interval, so values set faster
// than that are coalesced; the simulator therefore serves OPC UA lines live only.
package opcuasrv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// NamespaceURI is the simulator's namespace.
const NamespaceURI = "urn:floorpulse:simulator"

// Equipment is one machine to serve.
type Equipment struct {
	Line, Equipment string
}

// Signals are the variables every machine has (energy stays without a
// value on machines without a meter).
var Signals = []string{signal.Run, signal.State, signal.Count, "power", signal.Operator, signal.Alarm, signal.Scrap, signal.Energy}

// NodeID is the string node id of a signal in namespace ns.
func NodeID(ns uint16, site, line, equipment, name string) *ua.NodeID {
	return ua.NewStringNodeID(ns, site+"."+line+"."+equipment+"."+name)
}

// Server is the simulator's OPC UA server.
type Server struct {
	srv   *server.Server
	ns    *server.NodeNameSpace
	site  string
	nodes map[string]*server.Node
	url   string
	log   *slog.Logger

	mu      sync.Mutex
	history map[string]*history // by node id: the values set, for HistoryRead
	ready   bool
	lastSet map[string]time.Time // wall time of each node's last change
	minGap  time.Duration
}

// New builds the server and its address space.
func New(c Config, site string, eqs []Equipment, log *slog.Logger) (*Server, error) {
	key, cert, err := selfSigned(c.Host)
	if err != nil {
		return nil, fmt.Errorf("making a certificate: %w", err)
	}
	srv := server.New(
		server.EndPoint(c.Host, c.Port),
		server.PrivateKey(key),
		server.Certificate(cert),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSign),
		server.EnableSecurity("Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("floorpulse simulator"),
		server.ManufacturerName("floorpulse"),
		server.ProductName("floorpulse plant simulator"),
		server.SetLogger(quiet{log}),
	)
	// gopcua's server answers SetPublishingMode with BadServiceUnsupported;
	// clients ask it to learn whether a quiet subscription still exists.
	srv.RegisterHandler(id.SetPublishingModeRequest_Encoding_DefaultBinary, func(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
		return setPublishingMode(srv, r)
	})
	s := &Server{srv: srv, site: site, nodes: map[string]*server.Node{}, history: map[string]*history{},
		url: fmt.Sprintf("opc.tcp://%s:%d", c.Host, c.Port), log: log, minGap: c.MinChangeGap}
	// gopcua's server has no history; the simulator keeps the values it set.
	srv.RegisterHandler(id.HistoryReadRequest_Encoding_DefaultBinary, func(_ *uasc.SecureChannel, r ua.Request, _ uint32) (ua.Response, error) {
		return s.historyRead(r)
	})
	s.ns = server.NewNodeNameSpace(srv, NamespaceURI)
	root, err := srv.Namespace(0)
	if err != nil {
		return nil, err
	}
	objs := s.ns.Objects()
	root.Objects().AddRef(objs, id.HasComponent, true)
	siteNode := s.folder(objs, site, site)
	lines := map[string]*server.Node{}
	for _, e := range eqs {
		ln := lines[e.Line]
		if ln == nil {
			ln = s.folder(siteNode, site+"."+e.Line, e.Line)
			lines[e.Line] = ln
		}
		en := s.folder(ln, site+"."+e.Line+"."+e.Equipment, e.Equipment)
		for _, name := range Signals {
			nid := NodeID(s.ns.ID(), site, e.Line, e.Equipment, name)
			v := server.NewVariableNode(nid, name, &ua.DataValue{
				EncodingMask:    ua.DataValueStatusCode | ua.DataValueServerTimestamp,
				Status:          ua.StatusBadWaitingForInitialData,
				ServerTimestamp: time.Now(),
			})
			s.ns.AddNode(v)
			en.AddRef(v, id.HasComponent, true)
			s.nodes[nid.String()] = v
			s.history[nid.String()] = &history{}
		}
	}
	return s, nil
}

func (s *Server) folder(parent *server.Node, sid, name string) *server.Node {
	n := server.NewFolderNode(ua.NewStringNodeID(s.ns.ID(), sid), name)
	s.ns.AddNode(n)
	parent.AddRef(n, id.Organizes, true)
	return n
}

// Namespace is the index of the simulator's namespace.
func (s *Server) Namespace() uint16 { return s.ns.ID() }

// URL is the endpoint URL.
func (s *Server) URL() string { return s.url }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	if err := s.srv.Start(ctx); err != nil {
		return fmt.Errorf("starting opc ua server on %s: %w", s.url, err)
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.tickClock(ctx)
	s.mu.Lock()
	s.ready = false
	s.mu.Unlock()
	return s.srv.Close()
}

// tickClock notifies the monitored items of the server's clock
// (Server/ServerStatus/CurrentTime) every second until ctx is done, as a
// server that samples it does; gopcua's server notifies only on a write.
// Clients watch the clock to notice a subscription that stopped publishing.
func (s *Server) tickClock(ctx context.Context) {
	clock := ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.srv.ChangeNotification(clock)
		}
	}
}

// WaitClient waits until some client monitors at least one item (or ctx ends),
// so that live changes are not made before anyone can see them.
func (s *Server) WaitClient(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		// The monitored item service exists once Run has started the
		// server (ready); before that there is nothing to look at.
		s.mu.Lock()
		ready := s.ready
		s.mu.Unlock()
		if ready {
			mis := s.srv.MonitoredItemService
			mis.Mu.Lock()
			n := len(mis.Items)
			mis.Mu.Unlock()
			if n > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Set sets a signal's value at source time t and notifies subscribers.
// End marks every variable bad (BadOutOfService, its value kept) from t
// on, as a server does whose devices went away: what is known of the
// machines ends at t, however long the server itself stays up and answers.
func (s *Server) End(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(s.history)) {
		n := s.nodes[key]
		if n == nil {
			continue
		}
		var variant *ua.Variant
		if h := s.history[key]; len(h.entries) > 0 {
			variant = h.entries[len(h.entries)-1].dv.Value
		}
		if err := s.setLocked(key, n, variant, ua.StatusBadOutOfService, t); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) Set(line, equipment, name string, t time.Time, v signal.Value) error {
	nid := NodeID(s.ns.ID(), s.site, line, equipment, name)
	n := s.nodes[nid.String()]
	if n == nil {
		return fmt.Errorf("no node %s", nid)
	}
	var val any
	switch v.Kind {
	case signal.KindBool:
		val = v.Bool
	case signal.KindNumber:
		val = v.Num
	default:
		val = v.Str
	}
	variant, err := ua.NewVariant(val)
	if err != nil {
		return fmt.Errorf("value of %s: %w", nid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setLocked(nid.String(), n, variant, ua.StatusGood, t)
}

// setLocked sets node n (key) to value with status and source time t, no
// sooner than minGap after its last change, so that the server samples
// every change; s.mu is held.
func (s *Server) setLocked(key string, n *server.Node, value *ua.Variant, status ua.StatusCode, t time.Time) error {
	if last, ok := s.lastSet[key]; ok {
		if wait := s.minGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
	}
	if s.lastSet == nil {
		s.lastSet = map[string]time.Time{}
	}
	s.lastSet[key] = time.Now()
	dv := &ua.DataValue{Value: value, Status: status, SourceTimestamp: t, ServerTimestamp: time.Now()}
	dv.UpdateMask()
	if err := n.SetAttribute(ua.AttributeIDValue, dv); err != nil {
		return err
	}
	s.history[key].add(dv)
	if s.ready {
		s.srv.ChangeNotification(n.ID())
	}
	return nil
}

// selfSigned makes an RSA key and a self-signed certificate for host whose
// application URI is the namespace URI.
func selfSigned(host string) (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	uri, _ := url.Parse(NamespaceURI)
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "floorpulse simulator", Organization: []string{"floorpulse"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature |
			x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{"localhost"},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	return key, der, err
}

// quiet adapts slog to gopcua's printf-style logger, at debug level except errors.
type quiet struct{ l *slog.Logger }

func (q quiet) Debug(msg string, args ...any) {}
func (q quiet) Info(msg string, args ...any)  { q.l.Debug(fmt.Sprintf(msg, args...)) }
func (q quiet) Warn(msg string, args ...any)  { q.l.Debug(fmt.Sprintf(msg, args...)) }
func (q quiet) Error(msg string, args ...any) { q.l.Warn(fmt.Sprintf(msg, args...)) }

// responseHeader is the header of a Good answer to a request of header req.
func responseHeader(req *ua.RequestHeader) *ua.ResponseHeader {
	return &ua.ResponseHeader{
		Timestamp: time.Now(), RequestHandle: req.RequestHandle, ServiceResult: ua.StatusOK,
		ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil),
	}
}

// setPublishingMode answers SetPublishingMode: Good for each subscription
// of the caller's session, BadSubscriptionIdInvalid for any other. This
// server always publishes, so disabling publishing is refused.
func setPublishingMode(srv *server.Server, r ua.Request) (ua.Response, error) {
	req, ok := r.(*ua.SetPublishingModeRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	hdr := responseHeader(req.RequestHeader)
	if !req.PublishingEnabled {
		hdr.ServiceResult = ua.StatusBadNotSupported
		return &ua.ServiceFault{ResponseHeader: hdr}, nil
	}
	sess := srv.Session(req.RequestHeader)
	subs := srv.SubscriptionService
	subs.Mu.Lock()
	defer subs.Mu.Unlock()
	results := make([]ua.StatusCode, len(req.SubscriptionIDs))
	for i, sid := range req.SubscriptionIDs {
		if sub, ok := subs.Subs[sid]; !ok || sess == nil || sub.Session != sess {
			results[i] = ua.StatusBadSubscriptionIDInvalid
		}
	}
	return &ua.SetPublishingModeResponse{ResponseHeader: hdr, Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}
