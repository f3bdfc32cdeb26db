// Command kube-apiserver runs a real kube-apiserver with an embedded etcd on
// loopback, for tests: one control plane per process. It stops when its stdin
// closes and then removes its state directory, so nothing outlives the parent.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	stateDir := flag.String("state-dir", "", "directory for etcd's data and the caller's files, removed on exit (required)")
	clientPort := flag.Int("etcd-client-port", 0, "loopback port for etcd clients (required)")
	peerPort := flag.Int("etcd-peer-port", 0, "loopback port for etcd peers (required)")
	flag.Parse()
	if *stateDir == "" || *clientPort == 0 || *peerPort == 0 {
		fmt.Fprintln(os.Stderr, "usage: kube-apiserver --state-dir DIR --etcd-client-port N --etcd-peer-port N -- <kube-apiserver flags>")
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

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(append([]string{fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", *clientPort)}, flag.Args()...))
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
