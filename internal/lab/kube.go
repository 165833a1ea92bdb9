package lab

import (
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
	"path/filepath"
	"strconv"
	"time"
)

// KubeVersion is the version of kube-apiserver and kube-controller-manager
// scripts/build-tools.sh builds (tests/kube/go.mod).
const KubeVersion = "v1.34.4"

// ControlPlane is a real Kubernetes API server (built from the module proxy
// by scripts/build-tools.sh) over Debian's etcd, on loopback. It stores and
// serves every API object, so Helm releases, CRDs and Jobs are real. No
// kubelet runs: StartControllerManager adds the real controllers, and a
// PodSim plays the node.
type ControlPlane struct {
	Server     string // https://127.0.0.1:port
	Kubeconfig string
	Token      string
	// EtcdURL is etcd's client URL (its JSON gateway answers /v3/kv/range):
	// tests read every key and its revision there.
	EtcdURL string
}

// StartControlPlane starts etcd and kube-apiserver and waits until the API
// server is ready.
func StartControlPlane(l *Lab) (*ControlPlane, error) {
	etcdURL, err := StartEtcd(l)
	if err != nil {
		return nil, err
	}
	return StartControlPlaneOn(l, etcdURL, "")
}

// StartEtcd starts an etcd of the lab (Debian's) and returns its client URL.
func StartEtcd(l *Lab) (string, error) {
	if err := need("etcd"); err != nil {
		return "", err
	}
	dir, err := l.TempDir()
	if err != nil {
		return "", err
	}
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if _, _, err := l.startProc("etcd", []string{"--data-dir", filepath.Join(dir, "etcd"), "--name", "lab",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "lab=" + peerURL, "--log-level", "warn"}, 10*time.Second); err != nil {
		return "", err
	}
	return etcdURL, nil
}

// StartControlPlaneOn starts a kube-apiserver over the etcd at etcdURL,
// its objects under prefix (kube-apiserver's --etcd-prefix; "" is its
// default, /registry). API servers over one etcd with their own prefixes
// are separate clusters: none sees another's objects.
func StartControlPlaneOn(l *Lab, etcdURL, prefix string) (*ControlPlane, error) {
	bin, err := ToolBin("kube-apiserver", KubeVersion)
	if err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = "/registry"
	}

	caPEM, certFile, keyFile, err := serverCert(dir)
	if err != nil {
		return nil, err
	}
	saKey := filepath.Join(dir, "sa.key")
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPub := filepath.Join(dir, "sa.pub")
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err := writePEM(saKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)); err != nil {
		return nil, err
	}
	if err := writePEM(saPub, "PUBLIC KEY", pubDER); err != nil {
		return nil, err
	}
	cp := &ControlPlane{Server: fmt.Sprintf("https://127.0.0.1:%d", apiPort), Token: "lab-admin-token-" + strconv.Itoa(apiPort), EtcdURL: etcdURL}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(cp.Token+",lab-admin,lab-admin,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	if _, _, err := l.startProc(bin, []string{
		"--etcd-servers", etcdURL, "--etcd-prefix", prefix,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile, "--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.96.0.0/24",
		// No service-account controller runs here.
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false", "--v", "0",
		// The pod simulator is the lab's kubelet: reach it on its InternalIP.
		"--kubelet-preferred-address-types", "InternalIP",
	}, 10*time.Second); err != nil {
		return nil, err
	}
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
`, cp.Server, base64.StdEncoding.EncodeToString(caPEM), cp.Token)
	if err := os.WriteFile(cp.Kubeconfig, []byte(kc), 0o600); err != nil {
		return nil, err
	}
	if err := waitReady(cp.Server+"/readyz", cp.Token, caPEM, 90*time.Second); err != nil {
		return nil, fmt.Errorf("kube-apiserver not ready after 90s (last: %v)", err)
	}
	return cp, nil
}

// waitReady polls url (with a bearer token) until it answers 200.
func waitReady(url, token string, caPEM []byte, within time.Duration) error {
	tlsCfg := &tls.Config{}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tlsCfg.RootCAs = pool
	} else {
		tlsCfg.InsecureSkipVerify = true // a component's self-signed serving cert
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// serverCert makes a CA and a serving certificate for 127.0.0.1.
func serverCert(dir string) (caPEM []byte, certFile, keyFile string, err error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", "", err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, DNSNames: []string{"localhost", "kubernetes.default.svc"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return nil, "", "", err
	}
	if err := writePEM(keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)); err != nil {
		return nil, "", "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
