package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/internal/contract"
)

// KubeAccessInput lists what a run will do on a cluster.
type KubeAccessInput struct {
	Cluster   string       `json:"cluster"`
	Namespace string       `json:"namespace"`
	Access    []KubeAccess `json:"access"`
}

// KubeAccess is one verb on one resource ("delete secrets": helm uninstall).
type KubeAccess struct {
	Verbs    []string `json:"verbs"`
	Group    string   `json:"group,omitempty"`
	Resource string   `json:"resource"`
	// ClusterScoped: asked without a namespace (CRDs).
	ClusterScoped bool `json:"clusterScoped,omitempty"`
	// Namespace, when set, is asked about instead of the run's (Tiller's
	// records in kube-system).
	Namespace string `json:"namespace,omitempty"`
	Why       string `json:"why,omitempty"`
}

// One review per verb, each a short request: no heartbeat.
// A check is quick, but a worker lost in it (or right before it, the task
// already handed to it) would cost the whole 2-minute try without a
// heartbeat: 15 s, from the shared ticker.
var _ = contract.Declare((*Preflight).CheckKubeAccess, contract.Options{Heartbeat: 15 * time.Second})

// CheckKubeAccess asks the API server, with a SelfSubjectAccessReview per
// verb and resource, whether the worker's account may do what the run
// will do; it changes nothing (a review is not stored).
func (p *Preflight) CheckKubeAccess(ctx context.Context, in KubeAccessInput) (contract.Outcome, error) {
	var out contract.Outcome
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		out, err = p.checkKubeAccess(ctx, in)
		return err
	})
	return out, err
}

func (p *Preflight) checkKubeAccess(ctx context.Context, in KubeAccessInput) (contract.Outcome, error) {
	cs, err := p.kubeClient(in.Cluster)
	if err != nil {
		return contract.Outcome{}, err
	}
	var checks []contract.Check
	for _, a := range in.Access {
		ns := in.Namespace
		if a.Namespace != "" {
			ns = a.Namespace
		}
		if a.ClusterScoped {
			ns = ""
		}
		res := a.Resource
		if a.Group != "" {
			res += "." + a.Group
		}
		var denied []string
		var reasons []string
		for _, verb := range a.Verbs {
			r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
				Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: a.Group, Resource: strings.SplitN(a.Resource, "/", 2)[0],
					Subresource: subresource(a.Resource)}}}, metav1.CreateOptions{})
			if err != nil {
				return outcome("cluster access", append(checks, fail("cluster", in.Cluster, p.scrub("unable to ask the API server: "+err.Error()),
					fmt.Sprintf("check that cluster %s answers and the worker's kubeconfig is valid", in.Cluster))))
			}
			if !r.Status.Allowed {
				denied = append(denied, verb)
				if r.Status.Reason != "" {
					reasons = append(reasons, r.Status.Reason)
				}
			}
		}
		where := res
		if ns != "" {
			where = res + " in " + ns
		}
		if len(denied) > 0 {
			found := fmt.Sprintf("may not %s %s (%s)", strings.Join(denied, ", "), where, a.Why)
			if len(reasons) > 0 {
				found += ": " + strings.Join(reasons, "; ")
			}
			checks = append(checks, fail("kube-access", in.Cluster+": "+res, found,
				fmt.Sprintf("bind the worker's account to a role that allows %s on %s (kubectl auth can-i %s %s -n %s)",
					strings.Join(denied, ", "), res, denied[0], res, ns)))
			continue
		}
		checks = append(checks, pass("kube-access", in.Cluster+": "+res, fmt.Sprintf("may %s %s", strings.Join(a.Verbs, ", "), where)))
	}
	return outcome("cluster access", checks)
}

func subresource(r string) string {
	if _, sub, ok := strings.Cut(r, "/"); ok {
		return sub
	}
	return ""
}
