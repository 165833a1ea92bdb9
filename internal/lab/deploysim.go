package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations on a Deployment's pod template that tell the lab how its pod
// behaves: what it serves on which port, when it comes up, what it logs.
// The lab's charts (tests/testdata/charts/c7n-service) set them from values.
const (
	AnnoPort     = "lab.upgrader.io/port"      // the port the pod serves on
	AnnoServe    = "lab.upgrader.io/serve"     // actuator, html or eureka
	AnnoTitle    = "lab.upgrader.io/title"     // html: the page's <title>
	AnnoApp      = "lab.upgrader.io/app"       // eureka: the registered app's name
	AnnoUpAfter  = "lab.upgrader.io/up-after"  // answers DOWN until this long after start
	AnnoLog      = "lab.upgrader.io/log"       // a JSON list of lines the pod logs
	AnnoLogAfter = "lab.upgrader.io/log-after" // how long after start it logs them
)

// DeploymentSim stands in for the Deployment controller and the kubelet:
// each time a Deployment's generation changes (helm installs or upgrades
// it) it replaces the Deployment's pod with a new one of a new ReplicaSet,
// which serves and logs as the pod template's annotations say; a deleted
// Deployment's pod is deleted.
type DeploymentSim struct {
	sim  *PodSim
	mu   sync.Mutex
	pods map[string]simPod // ns/deployment → its pod
	// Started counts pods started, by ns/deployment.
	started map[string]int
}

type simPod struct {
	name       string
	generation int64
}

// StartDeploymentSim watches every namespace's Deployments until the test ends.
func StartDeploymentSim(l *Lab, sim *PodSim) *DeploymentSim {
	d := &DeploymentSim{sim: sim, pods: map[string]simPod{}, started: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := d.sync(ctx); err != nil && ctx.Err() == nil {
				l.logf("deployment sim: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	l.Cleanup(func() { cancel(); <-done })
	return d
}

// Started says how many pods the Deployment has had.
func (d *DeploymentSim) Started(ns, name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started[ns+"/"+name]
}

func (d *DeploymentSim) sync(ctx context.Context) error {
	list, err := d.sim.cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, dep := range list.Items {
		key := dep.Namespace + "/" + dep.Name
		present[key] = true
		d.mu.Lock()
		cur, ok := d.pods[key]
		d.mu.Unlock()
		if ok && cur.generation == dep.Generation {
			continue
		}
		if ok {
			if err := d.sim.StopPod(dep.Namespace, cur.name); err != nil {
				return err
			}
		}
		a := dep.Spec.Template.Annotations
		rs := fmt.Sprintf("%s-%d", dep.Name, dep.Generation)
		spec := PodSpec{Namespace: dep.Namespace, Name: rs + "-lab", Labels: dep.Spec.Template.Labels, OwnerReplicaSet: rs}
		start := time.Now()
		if port, err := strconv.Atoi(a[AnnoPort]); err == nil {
			spec.Handlers = map[int]http.Handler{port: podHandler(a, start)}
		}
		if _, err := d.sim.StartPod(spec); err != nil {
			return err
		}
		d.mu.Lock()
		d.pods[key] = simPod{name: spec.Name, generation: dep.Generation}
		d.started[key]++
		d.mu.Unlock()
		if lines := a[AnnoLog]; lines != "" {
			var ls []string
			if err := json.Unmarshal([]byte(lines), &ls); err != nil {
				return fmt.Errorf("%s: annotation %s is not a JSON list: %w", key, AnnoLog, err)
			}
			after, _ := time.ParseDuration(a[AnnoLogAfter])
			ns, pod := dep.Namespace, spec.Name
			d.sim.Log(ns, pod, "Starting "+dep.Name)
			time.AfterFunc(after, func() { d.sim.Log(ns, pod, ls...) })
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, p := range d.pods {
		if present[key] {
			continue
		}
		ns, _, _ := strings.Cut(key, "/")
		if err := d.sim.StopPod(ns, p.name); err != nil {
			return err
		}
		delete(d.pods, key)
	}
	return nil
}

// podHandler answers the guides' checks the way the real services do.
func podHandler(a map[string]string, start time.Time) http.Handler {
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
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": a[AnnoApp], "instance": []any{map[string]any{
				"instanceId": r.Host + ":" + a[AnnoApp], "app": a[AnnoApp], "status": "UP", "overriddenstatus": "UNKNOWN"}}})
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"status":"UP"}`)
		}
	})
}
