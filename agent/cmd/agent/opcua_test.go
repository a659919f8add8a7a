package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/source/opcua"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func TestOPCUABrowse(t *testing.T) {
	// The client certificate browse will generate in data-dir, made first
	// so that the server can trust it.
	dataDir := t.TempDir()
	base, err := config.PrepareOPCUA(config.OPCUA{Endpoint: "opc.tcp://x:1", SecurityPolicy: "Basic256Sha256", ServerThumbprint: strings.Repeat("a", 40),
		Nodes: []config.Node{{NodeID: "i=85", Line: "x", Equipment: "x", Signal: "x"}}}, "gw1", "x", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := opcua.LoadIdentity(base)
	if err != nil {
		t.Fatal(err)
	}
	clientCert := filepath.Join(t.TempDir(), "agent.der")
	if err := os.WriteFile(clientCert, id.Cert, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testenv.StartNodeOPCUA(t, testenv.NodeOPCUAOptions{Trust: []string{clientCert}})
	thumb := opcua.Thumbprint(srv.Certificate())

	t.Run("table", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"opcua", "browse", srv.URL, "-depth", "4"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^NODE ID\s+BROWSE PATH\s+CLASS\s+DATA TYPE\s+ACCESS$`),
			regexp.MustCompile(`(?m)^ns=1;s=Line1\.M01\s+Objects/1:Line1/1:M01\s+Object\s+-\s+-$`),
			regexp.MustCompile(`(?m)^ns=1;s=Line1\.M01\.Run\s+Objects/1:Line1/1:M01/1:Run\s+Variable\s+Boolean\s+read`),
			regexp.MustCompile(`(?m)^ns=1;s=Line1\.M01\.Power\s+Objects/1:Line1/1:M01/1:Power\s+Variable\s+Double\s+read`),
			regexp.MustCompile(`(?m)^ns=1;s=Line1\.M01\.Operator\s+Objects/1:Line1/1:M01/1:Operator\s+Variable\s+String\s+read`),
		} {
			if !want.MatchString(out.String()) {
				t.Errorf("output lacks %s:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), "i=2253") {
			t.Errorf("the standard Server object is listed:\n%s", out.String())
		}
	})

	t.Run("untrusted server", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"opcua", "browse", "-endpoint", srv.URL, "-security-policy", "Basic256Sha256", "-trust-dir", t.TempDir(), "-data-dir", dataDir}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "server_thumbprint: "+thumb) {
			t.Fatalf("exit %d, want 1 and the thumbprint %s named:\n%s", code, thumb, errOut.String())
		}
	})

	t.Run("emit config that check accepts", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"opcua", "browse", "-endpoint", srv.URL, "-security-policy", "Basic256Sha256", "-server-thumbprint", thumb,
			"-username", "operator", "-password", "op-secret", "-data-dir", dataDir, "-match", `M01/1:(Run|Power|Temp)$`, "-emit-config"}, &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		snippet := out.String()
		for _, want := range []string{"security_policy: Basic256Sha256", "security_mode: SignAndEncrypt", `server_thumbprint: "` + thumb + `"`,
			`username: "operator"`, "# Objects/1:Line1/1:M01/1:Run  Boolean", `- {node_id: "ns=1;s=Line1.M01.Run", line: "", equipment: "", signal: ""}`} {
			if !strings.Contains(snippet, want) {
				t.Errorf("snippet lacks %q:\n%s", want, snippet)
			}
		}
		if n := strings.Count(snippet, "- {node_id:"); n != 3 {
			t.Errorf("%d nodes, want 3:\n%s", n, snippet)
		}
		// As printed, check refuses it: the mapping is not filled in.
		doc := "agent_id: gw1\nsite: plant1\ndata_dir: " + dataDir + "\n" + snippet
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		errOut.Reset()
		if code := run([]string{"check", "-config", path}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "opcua[0].nodes[0].line: required") {
			t.Fatalf("check of the unfilled snippet: exit %d\n%s", code, errOut.String())
		}
		i := 0
		filled := regexp.MustCompile(`line: "", equipment: "", signal: ""`).ReplaceAllStringFunc(doc, func(string) string {
			i++
			return `line: L1, equipment: M01, signal: s` + string(rune('0'+i))
		})
		filled = strings.Replace(filled, `password: ""`, `password: op-secret`, 1)
		if err := os.WriteFile(path, []byte(filled), 0o600); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		errOut.Reset()
		if code := run([]string{"check", "-config", path}, &out, &errOut); code != 0 {
			t.Fatalf("check of the filled snippet: exit %d\n%s\n%s", code, errOut.String(), filled)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"opcua", "browse", "-endpoint", "http://x", "-security-mode", "Sign"}, &out, &errOut); code != 2 ||
			!strings.Contains(errOut.String(), "-endpoint: invalid endpoint") || !strings.Contains(errOut.String(), `-security-mode: mode "Sign" does not go with policy "None"`) {
			t.Fatalf("exit %d:\n%s", code, errOut.String())
		}
		if code := run([]string{"opcua", "list"}, &out, &errOut); code != 2 {
			t.Fatalf("unknown opcua command: exit %d", code)
		}
		errOut.Reset()
		if code := run([]string{"opcua", "browse", "opc.tcp://a:4840", "-endpoint", "opc.tcp://b:4840"}, &out, &errOut); code != 2 ||
			!strings.Contains(errOut.String(), "two endpoints") {
			t.Fatalf("two endpoints: exit %d:\n%s", code, errOut.String())
		}
		errOut.Reset()
		if code := run([]string{"opcua", "browse", "-depth", "2", "opc.tcp://a:4840", "opc.tcp://b:4840"}, &out, &errOut); code != 2 ||
			!strings.Contains(errOut.String(), "one endpoint") {
			t.Fatalf("two positional endpoints: exit %d:\n%s", code, errOut.String())
		}
	})
}
