package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ControlPlane is a real Kubernetes API server (built from the module proxy
// by scripts/build-tools.sh) over Debian's etcd, on loopback. It stores and
// serves every API object, so Helm releases, CRDs and Jobs are real; no
// kubelet or controller runs, so pods are not started by it.
type ControlPlane struct {
	Server     string // https://127.0.0.1:port
	Kubeconfig string
	Token      string
}

// StartControlPlane starts etcd and kube-apiserver and waits until the API
// server is ready.
func StartControlPlane(t TB) *ControlPlane {
	t.Helper()
	need(t, "etcd")
	bin := ToolBin(t, "kube-apiserver", "v1.34.4")
	dir := t.TempDir()
	etcdPort, peerPort, apiPort := FreePort(t), FreePort(t), FreePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcd := startProc(t, "etcd", []string{"--data-dir", filepath.Join(dir, "etcd"), "--name", "lab",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "lab=" + peerURL, "--log-level", "warn"})
	_ = etcd

	caPEM, certFile, keyFile := serverCert(t, dir)
	saKey := filepath.Join(dir, "sa.key")
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	writePEM(t, saKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	saPub := filepath.Join(dir, "sa.pub")
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	writePEM(t, saPub, "PUBLIC KEY", pubDER)
	cp := &ControlPlane{Server: fmt.Sprintf("https://127.0.0.1:%d", apiPort), Token: "lab-admin-token-" + strconv.Itoa(apiPort)}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(cp.Token+",lab-admin,lab-admin,system:masters\n"), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	startProc(t, bin, []string{
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile, "--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.96.0.0/24",
		// No controller-manager creates service accounts here.
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false", "--v", "0",
		// The pod simulator is the lab's kubelet: reach it on its InternalIP.
		"--kubelet-preferred-address-types", "InternalIP",
	})
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: lab-admin
  user:
    token: %s
contexts:
- name: lab
  context: {cluster: lab, user: lab-admin}
current-context: lab
`, cp.Server, b64(caPEM), cp.Token)
	if err := os.WriteFile(cp.Kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, cp.Server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+cp.Token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 90s (last: %v)", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func startProc(t TB, bin string, args []string) *exec.Cmd {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			out := log.String()
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			t.Logf("%s log (tail):\n%s", filepath.Base(bin), out)
		}
	})
	return cmd
}

// serverCert makes a CA and a serving certificate for 127.0.0.1.
func serverCert(t TB, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("%v", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, DNSNames: []string{"localhost", "kubernetes.default.svc"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("%v", err)
	}
	certFile, keyFile = filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}

func writePEM(t TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
