package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// PodSim stands in for a node's kubelet (and the scheduler) in the lab. It
// registers a Node; binds every unscheduled pod to it; runs each pod the
// real controllers create (kubelet.go): Running and Ready on a loopback pod
// IP, serving the HTTP endpoints its annotations describe (the guides'
// health checks), printing their log lines, and ending a Job's pod
// Succeeded after the delay its annotation names; it confirms pods' graceful
// deletion. It serves container logs the way a kubelet does, so `pods/log`
// through the real API server works, follow and sinceTime included. Tests
// may also create pods by hand (StartPod).
type PodSim struct {
	// ControlPlane is the cluster the simulator is the node of.
	ControlPlane *ControlPlane

	lab     *Lab
	cs      *kubernetes.Clientset
	pods    corelisters.PodLister // the kubelet's informer cache
	node    string
	mu      sync.Mutex
	logs    map[string]*podLog // ns/pod
	servers map[string][]*http.Server
	nextIP  int
	// manual are the pods StartPod made (ns/pod): the kubelet loop leaves them be.
	manual map[string]bool
	// running are the controller-made pods the loop runs, ns/pod → UID.
	running map[string]string
	// deleting are pods whose deletion the loop confirmed, by UID.
	deleting map[string]bool
	// started counts pods started, by ns/deployment.
	started map[string]int
}

type podLog struct {
	mu    sync.Mutex
	ended bool // the container exited: follow streams end
	lines []logLine
	more  chan struct{} // closed and replaced on every append
}

type logLine struct {
	at   time.Time
	text string
}

// StartPodSim registers node "lab-node" whose kubelet endpoint is this
// simulator. The API server must prefer InternalIP addresses (the lab's do).
func StartPodSim(l *Lab, cp *ControlPlane) (*PodSim, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &PodSim{ControlPlane: cp, lab: l, cs: cs, node: "lab-node", logs: map[string]*podLog{}, servers: map[string][]*http.Server{},
		manual: map[string]bool{}, running: map[string]string{}, deleting: map[string]bool{}, started: map[string]int{},
		nextIP: mathrand.IntN(250 * 250 * 250)}

	// The kubelet endpoint: HTTPS, as the API server expects.
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	_, certFile, keyFile, err := serverCert(dir)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/{ns}/{pod}/{container}", s.serveLogs)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	l.Cleanup(func() { _ = srv.Close() })

	port := int32(ln.Addr().(*net.TCPAddr).Port)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.node}}
	ctx := context.Background()
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create node: %w", err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("node status: %w", err)
	}
	s.startKubelet()
	return s, nil
}

// PodSpec describes a simulated pod.
type PodSpec struct {
	Namespace, Name string
	Labels          map[string]string
	// OwnerReplicaSet, when set, makes the pod owned by that ReplicaSet
	// (which is created if missing), as a Deployment's pods are.
	OwnerReplicaSet string
	// Handlers serve HTTP on the pod's IP, by port.
	Handlers map[int]http.Handler
	// Host, when set, places the pod on a netns test host: its IP is then
	// one the API server proxies to. Otherwise the pod gets a loopback IP.
	Host *NetnsHost
}

// Pod is a running simulated pod.
type Pod struct {
	Name, IP string
}

// StartPod creates the pod, marks it Running and Ready with a fresh
// loopback IP (or one on spec.Host), and serves its handlers there.
func (s *PodSim) StartPod(spec PodSpec) (Pod, error) {
	ctx := context.Background()
	// Listen first, on a loopback IP nobody else uses (other labs may run
	// in other processes), so a pod is created only once it can serve.
	var ip string
	var listeners map[int]net.Listener
	var err error
	for try := 0; try < 20; try++ {
		listen := func(port int) (net.Listener, error) { return net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port)) }
		if spec.Host != nil {
			ip, listen = spec.Host.IP, spec.Host.Listen
		} else {
			ip = s.nextLoopbackIP()
		}
		if listeners, err = listenAll(spec.Handlers, listen); err == nil || spec.Host != nil {
			break
		}
	}
	if err != nil {
		return Pod{}, fmt.Errorf("pod %s: %w", spec.Name, err)
	}
	key := spec.Namespace + "/" + spec.Name
	s.mu.Lock()
	s.manual[key] = true
	s.mu.Unlock()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: spec.Namespace, Labels: spec.Labels},
		Spec: corev1.PodSpec{NodeName: s.node, Containers: []corev1.Container{{Name: "app", Image: "lab/app"}}}}
	if spec.OwnerReplicaSet != "" {
		rs, err := s.ensureReplicaSet(spec.Namespace, spec.OwnerReplicaSet, spec.Labels)
		if err != nil {
			return Pod{}, err
		}
		ctrl := true
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &ctrl}}
	}
	created, err := s.cs.CoreV1().Pods(spec.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return Pod{}, fmt.Errorf("create pod %s: %w", spec.Name, err)
	}
	s.serve(key, spec.Handlers, listeners)
	now := metav1.Now()
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "127.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "lab/app",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	if _, err := s.cs.CoreV1().Pods(spec.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return Pod{}, fmt.Errorf("pod %s status: %w", spec.Name, err)
	}
	return Pod{Name: spec.Name, IP: ip}, nil
}

// nextLoopbackIP hands out 127.x.y.z addresses from a random start, so
// labs in other processes (go test runs packages side by side) rarely
// pick the same; StartPod moves on when one is taken anyway.
func (s *PodSim) nextLoopbackIP() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextIP++
	n := s.nextIP % (250 * 250 * 250)
	return fmt.Sprintf("127.%d.%d.%d", n/(250*250)+1, n/250%250, n%250+1)
}

func listenAll(handlers map[int]http.Handler, listen func(int) (net.Listener, error)) (map[int]net.Listener, error) {
	out := map[int]net.Listener{}
	for port := range handlers {
		l, err := listen(port)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out[port] = l
	}
	return out, nil
}

// StopPod stops the pod's servers, ends its log, and deletes it at once
// (no kubelet is there to wait for).
func (s *PodSim) StopPod(ns, name string) error {
	s.stopServing(ns, name)
	s.mu.Lock()
	delete(s.manual, ns+"/"+name)
	s.mu.Unlock()
	zero := int64(0)
	err := s.cs.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (s *PodSim) ensureReplicaSet(ns, name string, labels map[string]string) (*metav1.ObjectMeta, error) {
	ctx := context.Background()
	rs, err := s.cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return &rs.ObjectMeta, nil
	}
	manifest := replicaSet(ns, name, labels)
	rs, err = s.cs.AppsV1().ReplicaSets(ns).Create(ctx, manifest, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create replicaset %s: %w", name, err)
	}
	return &rs.ObjectMeta, nil
}

func replicaSet(ns, name string, labels map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "lab/app"}}}}}}
}

// serve starts handlers on their listeners for pod key (ns/pod) until the
// pod stops or the lab ends.
func (s *PodSim) serve(key string, handlers map[int]http.Handler, listeners map[int]net.Listener) {
	for port, h := range handlers {
		l := listeners[port]
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		s.mu.Lock()
		s.servers[key] = append(s.servers[key], srv)
		s.mu.Unlock()
		s.lab.Cleanup(func() { _ = srv.Close() })
	}
}

// stopServing closes the pod's servers and ends its log, as its
// containers exiting would.
func (s *PodSim) stopServing(ns, name string) {
	key := ns + "/" + name
	s.mu.Lock()
	servers := s.servers[key]
	delete(s.servers, key)
	s.mu.Unlock()
	for _, srv := range servers {
		_ = srv.Close()
	}
	s.EndLogs(ns, name)
}
