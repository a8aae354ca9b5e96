// client-go-elector: a minimal leader elector built on client-go's tools/leaderelection (the copy vendored in
// the Kubernetes 1.20.2 source tree), so tests can check that leaderhook and client-go share one lock safely.
//
// It prints one line per callback on stdout: "started leading", "stopped leading", "new leader <id>".
// SIGTERM or SIGINT cancels the election; with ReleaseOnCancel the lock is released before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

var out sync.Mutex

func say(format string, args ...interface{}) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	namespace := flag.String("namespace", "default", "namespace of the lock")
	name := flag.String("name", "", "name of the lock object (required)")
	id := flag.String("id", "", "this candidate's identity (required)")
	lock := flag.String("lock", resourcelock.LeasesResourceLock, "lock kind: leases, configmaps or endpoints")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "lease duration")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "renew deadline")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "retry period")
	flag.Parse()
	if *name == "" || *id == "" {
		fmt.Fprintln(os.Stderr, "client-go-elector: --name and --id are required")
		os.Exit(2)
	}

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client-go-elector: %v\n", err)
		os.Exit(2)
	}
	// clientcmd takes credentials only for https servers; the embedded test API speaks plain http, so pass its
	// token explicitly there.
	if strings.HasPrefix(config.Host, "http://") && config.BearerToken == "" {
		if raw, err := clientcmd.LoadFromFile(*kubeconfig); err == nil {
			if context, ok := raw.Contexts[raw.CurrentContext]; ok {
				if user, ok := raw.AuthInfos[context.AuthInfo]; ok {
					config.BearerToken = user.Token
				}
			}
		}
	}
	config.UserAgent = "client-go-elector/" + *id
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client-go-elector: %v\n", err)
		os.Exit(2)
	}
	rl, err := resourcelock.New(*lock, *namespace, *name, client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: *id})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client-go-elector: %v\n", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-signals
		say("signal %s", s)
		cancel()
	}()

	led := false
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            rl,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: true,
		Name:            *name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				led = true
				say("started leading")
			},
			OnStoppedLeading: func() {
				if led {
					say("stopped leading")
				}
			},
			OnNewLeader: func(identity string) { say("new leader %s", identity) },
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client-go-elector: %v\n", err)
		os.Exit(2)
	}
	say("candidate %s", *id)
	// Run returns when ctx is cancelled (after releasing the lock) or when leadership is lost; a lost lease
	// ends the process, as in most client-go programs.
	elector.Run(ctx)
	say("exiting")
}
