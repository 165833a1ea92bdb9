package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// Annotations on a pod template that tell the lab how its pod behaves: what
// it serves on which port, when it comes up, what it logs, when a Job's pod
// ends. The lab's charts (tests/testdata/charts/c7n-service) set them from
// values; the real controllers copy them onto the pods they create.
const (
	AnnoPort         = "lab.upgrader.io/port"          // the port the pod serves on
	AnnoServe        = "lab.upgrader.io/serve"         // actuator, html or eureka
	AnnoTitle        = "lab.upgrader.io/title"         // html: the page's <title>
	AnnoApp          = "lab.upgrader.io/app"           // eureka: the registered app's name
	AnnoUpAfter      = "lab.upgrader.io/up-after"      // answers DOWN until this long after start
	AnnoLog          = "lab.upgrader.io/log"           // a JSON list of lines the pod logs
	AnnoLogAfter     = "lab.upgrader.io/log-after"     // how long after start it logs them
	AnnoSucceedAfter = "lab.upgrader.io/succeed-after" // a Job's pod: exits 0 this long after start
)

// kubeletResync is how often the lab's kubelet looks at every pod even
// when none changed (a pass whose status update lost a race, or a port
// that was busy, is tried again).
const kubeletResync = time.Second

// startKubelet runs the loop until the lab stops. Like a real kubelet and
// scheduler it watches pods (an informer) and makes a pass when one
// changes, reading them from the informer's cache: polling a LIST of every
// pod five times a second, as this loop once did, cost each lab cluster's
// API server and etcd ~0.02 of a core doing nothing and made every step
// of a rollout wait up to 200 ms for the next poll.
func (s *PodSim) startKubelet() {
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(s.cs, 0)
	pods := factory.Core().V1().Pods()
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() }, UpdateFunc: func(any, any) { poke() }, DeleteFunc: func(any) { poke() }})
	s.pods = pods.Lister()
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		factory.WaitForCacheSync(ctx.Done())
		for ctx.Err() == nil {
			if err := s.syncPods(ctx); err != nil && ctx.Err() == nil {
				s.lab.logf("lab kubelet: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-kick:
			case <-time.After(kubeletResync):
			}
		}
	}()
	s.lab.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
}

// Started says how many pods the Deployment ns/name has had.
func (s *PodSim) Started(ns, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started[ns+"/"+name]
}

// syncPods is one pass of the kubelet: schedule, start, confirm deletions.
func (s *PodSim) syncPods(ctx context.Context) error {
	list, err := s.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	present := map[string]bool{}
	var errs []string
	for _, p := range list { // the informer's objects: read, never written
		key := p.Namespace + "/" + p.Name
		present[key] = true
		s.mu.Lock()
		manual, runningUID, deleting := s.manual[key], s.running[key], s.deleting[string(p.UID)]
		s.mu.Unlock()
		switch {
		case p.DeletionTimestamp != nil:
			// The kubelet's part of a graceful delete: stop the
			// containers, then remove the pod for good.
			if deleting {
				continue
			}
			s.stopServing(p.Namespace, p.Name)
			zero := int64(0)
			err := s.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
				Preconditions: &metav1.Preconditions{UID: &p.UID}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, err.Error())
				continue
			}
			s.mu.Lock()
			s.deleting[string(p.UID)] = true
			delete(s.running, key)
			delete(s.manual, key)
			s.mu.Unlock()
		case manual:
		case p.Spec.NodeName == "":
			// The scheduler's part: one node, so every pod goes there.
			err := s.cs.CoreV1().Pods(p.Namespace).Bind(ctx, &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: s.node}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Sprintf("bind %s: %v", key, err))
			}
		case p.Spec.NodeName != s.node, runningUID == string(p.UID),
			p.Status.Phase == corev1.PodSucceeded, p.Status.Phase == corev1.PodFailed:
		default:
			if runningUID != "" { // a pod of the same name before: gone now
				s.stopServing(p.Namespace, p.Name)
			}
			if err := s.runPod(ctx, p); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	s.mu.Lock()
	var gone []string
	for key := range s.running {
		if !present[key] {
			gone = append(gone, key)
			delete(s.running, key)
		}
	}
	s.mu.Unlock()
	for _, key := range gone {
		ns, name, _ := strings.Cut(key, "/")
		s.stopServing(ns, name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// runPod starts a controller-made pod: its servers on a fresh IP, then a
// Running and Ready status; a Job's pod ends Succeeded after its delay.
func (s *PodSim) runPod(ctx context.Context, p *corev1.Pod) error {
	key := p.Namespace + "/" + p.Name
	a := p.Annotations
	start := time.Now()
	handlers := map[int]http.Handler{}
	if port, err := strconv.Atoi(a[AnnoPort]); err == nil {
		ns := p.Namespace
		handlers[port] = podHandler(a, p.Labels, start, func(ctx context.Context) []corev1.Pod {
			l, err := s.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "choerodon.io/service"})
			if err != nil {
				return nil
			}
			return l.Items
		})
	}
	var ip string
	var listeners map[int]net.Listener
	var err error
	for try := 0; try < 20; try++ {
		ip = s.nextLoopbackIP()
		if listeners, err = listenAll(handlers, func(port int) (net.Listener, error) {
			return net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
		}); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	now := metav1.Now()
	st := p.DeepCopy()
	st.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "127.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
	for _, c := range p.Spec.Containers {
		st.Status.ContainerStatuses = append(st.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Ready: true, Started: ptr(true),
			Image: c.Image, ImageID: "lab://" + c.Image, ContainerID: "lab://" + string(p.UID) + "/" + c.Name,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	if _, err := s.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, st, metav1.UpdateOptions{}); err != nil {
		for _, l := range listeners {
			l.Close()
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // changed meanwhile: the next pass looks again
		}
		return fmt.Errorf("pod %s status: %w", key, err)
	}
	s.serve(key, handlers, listeners)
	owner := ""
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			owner = o.Kind
		}
	}
	s.mu.Lock()
	s.running[key] = string(p.UID)
	if owner == "ReplicaSet" {
		if dep := deploymentOf(p); dep != "" {
			s.started[p.Namespace+"/"+dep]++
		}
	}
	s.mu.Unlock()

	name := p.Name
	if dep := deploymentOf(p); dep != "" {
		name = dep
	}
	s.Log(p.Namespace, p.Name, "Starting "+name)
	if lines := a[AnnoLog]; lines != "" && lines != "[]" {
		var ls []string
		if err := json.Unmarshal([]byte(lines), &ls); err != nil {
			return fmt.Errorf("%s: annotation %s is not a JSON list: %w", key, AnnoLog, err)
		}
		after, _ := time.ParseDuration(a[AnnoLogAfter])
		time.AfterFunc(after, func() { s.Log(p.Namespace, p.Name, ls...) })
	}
	if owner == "Job" {
		after, _ := time.ParseDuration(a[AnnoSucceedAfter])
		ns, pod, uid := p.Namespace, p.Name, p.UID
		time.AfterFunc(after, func() {
			if err := s.succeed(ns, pod, string(uid)); err != nil {
				s.lab.logf("lab kubelet: %v", err)
			}
		})
	}
	return nil
}

// succeed ends a Job's pod: its containers exit 0, it is Succeeded, and
// the Job controller counts it.
func (s *PodSim) succeed(ns, name, uid string) error {
	s.mu.Lock()
	running := s.running[ns+"/"+name] == uid
	s.mu.Unlock()
	if !running {
		return nil
	}
	s.Log(ns, name, "done")
	s.stopServing(ns, name)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := s.cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(p.UID) != uid || p.DeletionTimestamp != nil {
			return nil
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodSucceeded
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason, c.LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
			}
		}
		for i := range p.Status.ContainerStatuses {
			c := &p.Status.ContainerStatuses[i]
			started := now
			if c.State.Running != nil {
				started = c.State.Running.StartedAt
			}
			c.Ready, c.Started = false, ptr(false)
			c.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: started, FinishedAt: now, ContainerID: c.ContainerID}}
		}
		_, err = s.cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pod %s/%s did not end: %w", ns, name, err)
	}
	return nil
}

// deploymentOf names the Deployment a ReplicaSet's pod belongs to: the
// ReplicaSet is <deployment>-<pod-template-hash>.
func deploymentOf(p *corev1.Pod) string {
	hash := p.Labels["pod-template-hash"]
	for _, o := range p.OwnerReferences {
		if o.Kind == "ReplicaSet" && hash != "" && strings.HasSuffix(o.Name, "-"+hash) {
			return strings.TrimSuffix(o.Name, "-"+hash)
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// podHandler answers the guides' checks the way the real services do.
func podHandler(a, labels map[string]string, start time.Time, pods func(context.Context) []corev1.Pod) http.Handler {
	upAfter, _ := time.ParseDuration(a[AnnoUpAfter])
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < upAfter {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"DOWN"}`)
			return
		}
		switch a[AnnoServe] {
		case "html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title></head><body><div id="app"></div></body></html>`, a[AnnoTitle])
		case "eureka":
			eurekaApps(w, r, pods(r.Context()))
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"status":"UP"}`)
		}
	})
}

// eurekaApps answers as go-register-server 0.9.0 does: GET /eureka/apps is
// the registry's ApplicationResources (pkg/eureka/router/apps.go,
// pkg/eureka/apps/types.go) listing every running pod of the namespace
// labelled choerodon.io/service, grouped by that label, each instance built
// by pkg/convertor/instance_convertor.go — status always UP (whether the
// service answers or not), metadata.VERSION the pod's choerodon.io/version
// label; so during a rolling upgrade the old register pod and the new one
// both list both versions. /eureka/apps/delta (its readiness probe) is an
// empty list. Other paths are 404, as there.
func eurekaApps(w http.ResponseWriter, r *http.Request, pods []corev1.Pod) {
	now := time.Now().Unix()
	byApp := map[string][]any{}
	var names []string
	for _, p := range pods {
		app := p.Labels["choerodon.io/service"]
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil || app == "" {
			continue
		}
		host, port := p.Status.PodIP, p.Annotations[AnnoPort]
		portN, _ := strconv.Atoi(port)
		if byApp[app] == nil {
			names = append(names, app)
		}
		byApp[app] = append(byApp[app], map[string]any{
			"instanceId": host + ":" + app + ":" + port, "hostName": host, "app": app, "ipAddr": host,
			"status": "UP", "overriddenstatus": "UNKNOWN",
			"port": map[string]any{"@enabled": true, "$": portN}, "securePort": map[string]any{"@enabled": false, "$": 443},
			"countryId":      8,
			"dataCenterInfo": map[string]any{"name": "MyOwn", "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"},
			"leaseInfo": map[string]any{"renewalIntervalInSecs": 10, "durationInSecs": 90, "registrationTimestamp": now,
				"lastRenewalTimestamp": now, "evictionTimestamp": 0, "serviceUpTimestamp": now},
			"metadata":    map[string]string{"VERSION": p.Labels["choerodon.io/version"]},
			"homePageUrl": "http://" + host + ":" + port + "/", "statusPageUrl": "http://" + host + ":" + port + "/info",
			"healthCheckUrl": "http://" + host + ":" + port + "/health", "vipAddress": app, "secureVipAddress": app,
			"isCoordinatingDiscoveryServer": true, "lastUpdatedTimestamp": now, "lastDirtyTimestamp": now, "actionType": "ADDED",
		})
	}
	sort.Strings(names)
	apps := []any{}
	for _, n := range names {
		apps = append(apps, map[string]any{"name": n, "instance": byApp[n]})
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/eureka/apps":
		_ = json.NewEncoder(w).Encode(map[string]any{"applications": map[string]any{
			"application": apps, "apps__hashcode": "UP_" + strconv.Itoa(len(pods)) + "_", "versions__delta": 2}})
	case "/eureka/apps/delta":
		_ = json.NewEncoder(w).Encode(map[string]any{"applications": map[string]any{
			"application": []any{}, "apps__hashcode": "app_hashcode", "versions__delta": 2}})
	default:
		http.NotFound(w, r)
	}
}
