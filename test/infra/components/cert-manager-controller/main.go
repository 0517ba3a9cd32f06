// A cert-manager controller built from the release's pkg/ packages, for the rekey benchmark against cert-manager.
// The release's cmd/controller is a nested module the Go module proxy does not serve, so this wires the same
// controllers the way its app does: each registers a constructor by name (package init), every constructor gets
// the one ContextFactory (shared informers, one client rate limiter), then the informers start and each controller
// runs with its workers. Only what a CA issuer needs runs: the certificates controllers, the approver, the CA
// CertificateRequest issuer and the Issuer/ClusterIssuer controllers. No webhook, no leader election.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"

	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"

	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
)

var controllers = []string{
	"issuers", "clusterissuers",
	"certificates-trigger", "certificates-issuing", "certificates-key-manager", "certificates-request-manager",
	"certificates-readiness", "certificates-revision-manager",
	"certificaterequests-approver", "certificaterequests-issuer-ca",
}

func main() {
	klog.InitFlags(flag.CommandLine)
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	// The defaults are cert-manager's own (internal/apis/config/controller/v1alpha1/defaults.go).
	qps := flag.Float64("kube-api-qps", 20, "client QPS")
	burst := flag.Int("kube-api-burst", 50, "client burst")
	workers := flag.Int("concurrent-workers", 5, "workers per controller")
	namespace := flag.String("namespace", "", "namespace to watch (all when empty)")
	clusterNs := flag.String("cluster-resource-namespace", "kube-system", "namespace of ClusterIssuer secrets")
	list := flag.Bool("list", false, "print the registered controllers and exit")
	flag.Parse()

	if *list {
		names := []string{}
		for n := range controllerpkg.Known() {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println(names)
		return
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx = klog.NewContext(ctx, klog.Background())

	opts := controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   float32(*qps),
		KubernetesAPIBurst: *burst,
		Namespace:          *namespace,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterNs},
		CertificateOptions: controllerpkg.CertificateOptions{
			CopiedAnnotationPrefixes: []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
		},
	}
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		klog.Fatalf("context factory: %v", err)
	}
	known := controllerpkg.Known()
	run := []controllerpkg.Interface{}
	for _, name := range controllers {
		ctor, ok := known[name]
		if !ok {
			klog.Fatalf("controller %q is not registered", name)
		}
		c, err := ctor(factory)
		if err != nil {
			klog.Fatalf("controller %q: %v", name, err)
		}
		run = append(run, c)
	}
	// The informers every constructor asked for start once, after all constructors ran.
	shared, err := factory.Build("informers")
	if err != nil {
		klog.Fatalf("context: %v", err)
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	klog.Infof("started %d controllers (qps=%v burst=%d workers=%d)", len(run), *qps, *burst, *workers)

	var wg sync.WaitGroup
	for i, c := range run {
		wg.Add(1)
		go func(name string, c controllerpkg.Interface) {
			defer wg.Done()
			if err := c.Run(*workers, ctx); err != nil {
				klog.Errorf("controller %s: %v", name, err)
			}
		}(controllers[i], c)
	}
	wg.Wait()
}
