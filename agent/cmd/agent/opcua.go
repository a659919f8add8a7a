package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/source/opcua"
	loader "github.com/floorpulse/floorpulse/pkg/config"
)

const opcuaUsage = `usage:
  agent opcua browse opc.tcp://host:4840 [flags]
  agent opcua browse -endpoint opc.tcp://host:4840 [flags]

Lists the objects and variables below -root (default the Objects folder) as a
table: node id, browse path, class, data type, access. With -emit-config it
prints an "opcua:" section for the variables instead; fill in line, equipment
and signal of each node (and site, unless the top-level one applies), put it in
the agent's configuration and run "agent check".

flags:
`

// runOPCUA runs "agent opcua ...".
func runOPCUA(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "browse" {
		fmt.Fprint(stderr, opcuaUsage)
		return 2
	}
	fs := flag.NewFlagSet("agent opcua browse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, opcuaUsage); fs.PrintDefaults() }
	var o config.OPCUA
	fs.StringVar(&o.Endpoint, "endpoint", "", "server endpoint, opc.tcp://host:port (required)")
	fs.StringVar(&o.SecurityPolicy, "security-policy", "None", "None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss")
	fs.StringVar(&o.SecurityMode, "security-mode", "", "None, Sign or SignAndEncrypt (default SignAndEncrypt with a secured policy)")
	fs.StringVar(&o.Username, "username", "", "user name (default anonymous)")
	password := fs.String("password", "", "password (default $OPCUA_PASSWORD; prefer the variable: a flag shows in the process list)")
	fs.StringVar(&o.Certificate, "certificate", "", "client certificate file (default: generated once in -data-dir)")
	fs.StringVar(&o.PrivateKey, "private-key", "", "client private key file")
	fs.StringVar(&o.TrustDir, "trust-dir", "", "folder of trusted server certificates")
	fs.StringVar(&o.ServerThumbprint, "server-thumbprint", "", "SHA-1 thumbprint (hex) of the trusted server certificate")
	dataDir := fs.String("data-dir", "var/agent", "the agent's data_dir, where a generated client certificate is kept")
	agentID := fs.String("agent-id", "gw1", "the agent's agent_id (part of the generated certificate's application URI)")
	rootFlag := fs.String("root", "i=85", "node id to start from")
	depth := fs.Int("depth", 6, "levels to descend")
	match := fs.String("match", "", "regular expression: only nodes whose browse path or node id matches")
	emit := fs.Bool("emit-config", false, "print an opcua configuration section for the variables found")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	// The endpoint may come first, before the flags, or after them.
	rest := args[1:]
	var positional string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		positional, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if positional == "" && fs.NArg() > 0 {
		positional = fs.Arg(0)
	}
	if fs.NArg() > 1 || (positional != "" && fs.NArg() > 0 && positional != fs.Arg(0)) {
		fmt.Fprintf(stderr, "one endpoint, please: %q\n", append([]string{positional}, fs.Args()...))
		return 2
	}
	if positional != "" {
		if o.Endpoint != "" && o.Endpoint != positional {
			fmt.Fprintf(stderr, "two endpoints: -endpoint %s and %s\n", o.Endpoint, positional)
			return 2
		}
		o.Endpoint = positional
	}
	if *password == "" {
		*password = os.Getenv("OPCUA_PASSWORD")
	}
	o.Password = loader.NewSecret(*password)
	root, err := config.ParseNodeID(*rootFlag)
	if err != nil {
		fmt.Fprintf(stderr, "-root: %v\n", err)
		return 2
	}
	var re *regexp.Regexp
	if *match != "" {
		if re, err = regexp.Compile(*match); err != nil {
			fmt.Fprintf(stderr, "-match: %v\n", err)
			return 2
		}
	}
	if *depth < 1 {
		fmt.Fprintln(stderr, "-depth: must be at least 1")
		return 2
	}
	// Validated as a configuration section would be, with a placeholder node.
	o.Nodes = []config.Node{{NodeID: "i=85", Line: "x", Equipment: "x", Signal: "x"}}
	cfg, err := config.PrepareOPCUA(o, *agentID, "x", *dataDir)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, flagName(line))
		}
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	entries, err := browse(ctx, cfg, root, *depth)
	if err != nil {
		fmt.Fprintf(stderr, "browse: %v\n", err)
		return 1
	}
	if re != nil {
		kept := entries[:0]
		for _, e := range entries {
			if re.MatchString(e.Path.String()) || re.MatchString(e.NodeID.String()) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	if *emit {
		emitConfig(stdout, cfg, entries, opcua.Rooted(root))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE ID\tBROWSE PATH\tCLASS\tDATA TYPE\tACCESS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.NodeID, e.Path, className(e.Class), dash(e.DataType), dash(e.Access))
	}
	tw.Flush()
	if !opcua.Rooted(root) {
		fmt.Fprintf(stdout, "(browse paths start at %s, not at the Root folder)\n", root)
	}
	return 0
}

func browse(ctx context.Context, cfg config.OPCUA, root *ua.NodeID, depth int) ([]opcua.Entry, error) {
	opts, err := opcua.ClientOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c, err := gopcua.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, err
	}
	if err := opcua.Connect(ctx, c, cfg); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(cctx)
	}()
	entries, err := opcua.Browse(ctx, c, root, depth)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (raise -timeout or lower -depth)", err)
	}
	return entries, err
}

// emitConfig prints an opcua section with one node per variable.
func emitConfig(w io.Writer, cfg config.OPCUA, entries []opcua.Entry, rooted bool) {
	n := 0
	for _, e := range entries {
		if e.Class == ua.NodeClassVariable {
			n++
		}
	}
	fmt.Fprintf(w, "# Variables of %s: %d. Fill in line, equipment and signal of each node (and site\n", cfg.Endpoint, n)
	fmt.Fprintf(w, "# unless the top-level site applies), then run `agent check`.\n")
	fmt.Fprintf(w, "opcua:\n  - endpoint: %s\n    security_policy: %s\n    security_mode: %s\n", cfg.Endpoint, cfg.SecurityPolicy, cfg.SecurityMode)
	if cfg.Certificate != "" {
		fmt.Fprintf(w, "    certificate: %s\n    private_key: %s\n", strconv.Quote(cfg.Certificate), strconv.Quote(cfg.PrivateKey))
	}
	if cfg.TrustDir != "" {
		fmt.Fprintf(w, "    trust_dir: %s\n", strconv.Quote(cfg.TrustDir))
	}
	if cfg.ServerThumbprint != "" {
		fmt.Fprintf(w, "    server_thumbprint: %q\n", config.NormalThumbprint(cfg.ServerThumbprint))
	}
	if cfg.Username != "" {
		fmt.Fprintf(w, "    username: %s\n    password: \"\"              # fill in\n", strconv.Quote(cfg.Username))
	}
	fmt.Fprintln(w, "    nodes:")
	for _, e := range entries {
		if e.Class != ua.NodeClassVariable {
			continue
		}
		where := e.Path.String()
		if !rooted {
			where = ".../" + where
		}
		fmt.Fprintf(w, "      # %s  %s  %s\n", where, dash(e.DataType), dash(e.Access))
		fmt.Fprintf(w, "      - {node_id: %s, line: \"\", equipment: \"\", signal: \"\"}\n", strconv.Quote(e.NodeID.String()))
	}
}

func className(c ua.NodeClass) string {
	switch c {
	case ua.NodeClassObject:
		return "Object"
	case ua.NodeClassVariable:
		return "Variable"
	}
	return fmt.Sprint(c)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// flagName turns a configuration key in a validation message into the flag
// that sets it ("opcua[0].security_mode: ..." -> "-security-mode: ...").
func flagName(msg string) string {
	msg = strings.TrimPrefix(msg, "opcua[0].")
	if i := strings.Index(msg, ":"); i > 0 && !strings.Contains(msg[:i], " ") {
		return "-" + strings.ReplaceAll(msg[:i], "_", "-") + msg[i:]
	}
	return msg
}
