// Command kube is one multi-call program (hyperkube style) with the Kubernetes
// components the local cluster runs, all from the same k8s.io/kubernetes module
// so they share one version and one build:
//
//	kube apiserver --state-dir DIR --etcd-client-port N --etcd-peer-port N -- <kube-apiserver flags>
//	kube controller-manager <flags>
//	kube scheduler <flags>
//	kube kubelet <flags>
//	kube proxy <flags>
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

const usage = "usage: kube apiserver|controller-manager|scheduler|kubelet|proxy [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "apiserver":
		runAPIServer(args)
	case "controller-manager":
		os.Exit(runCommand(controllermanager.NewControllerManagerCommand(), args))
	case "scheduler":
		os.Exit(runCommand(scheduler.NewSchedulerCommand(), args))
	case "kubelet":
		// The kubelet panics on a nil context; it stops on SIGTERM through its own handler.
		os.Exit(runCommand(kubelet.NewKubeletCommand(context.Background()), args))
	case "proxy":
		os.Exit(runCommand(proxy.NewProxyCommand(), args))
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q; %s\n", os.Args[1], usage)
		os.Exit(2)
	}
}

// runCommand runs a component the way its upstream main does (cli.Run sets up
// logging and flag normalisation), with our arguments instead of os.Args.
func runCommand(cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	return cli.Run(cmd)
}

// runAPIServer runs a kube-apiserver with an embedded etcd on loopback: one
// control plane per process. It stops when its stdin closes and then removes
// its state directory, so nothing outlives the parent.
func runAPIServer(args []string) {
	flags := flag.NewFlagSet("apiserver", flag.ExitOnError)
	stateDir := flags.String("state-dir", "", "directory for etcd's data and the caller's files, removed on exit (required)")
	clientPort := flags.Int("etcd-client-port", 0, "loopback port for etcd clients (required)")
	peerPort := flags.Int("etcd-peer-port", 0, "loopback port for etcd peers (required)")
	_ = flags.Parse(args)
	if *stateDir == "" || *clientPort == 0 || *peerPort == 0 {
		fmt.Fprintln(os.Stderr, "usage: kube apiserver --state-dir DIR --etcd-client-port N --etcd-peer-port N -- <kube-apiserver flags>")
		os.Exit(2)
	}

	exit := func(code int) {
		_ = os.RemoveAll(*stateDir)
		os.Exit(code)
	}
	etcd, err := startEtcd(filepath.Join(*stateDir, "etcd"), *clientPort, *peerPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		exit(1)
	}

	// The parent holds our stdin open; when it exits, even by SIGKILL, stdin
	// reaches EOF and we stop, so no server outlives the test run. The data is
	// throwaway, so there is nothing to flush: exit at once.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		exit(0)
	}()

	cmd := apiserver.NewAPIServerCommand()
	cmd.SetArgs(append([]string{fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", *clientPort)}, flags.Args()...))
	err = cmd.Execute()
	etcd.Close()
	if err != nil {
		exit(1)
	}
	exit(0)
}

func startEtcd(dir string, clientPort, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("not ready within 60s")
	}
}
