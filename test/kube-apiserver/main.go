// Command kube-apiserver runs a real kube-apiserver with an embedded etcd on
// loopback, for tests: one control plane per process, stopped when stdin closes.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	dataDir := flag.String("etcd-data-dir", "", "directory for etcd's data (required)")
	clientPort := flag.Int("etcd-client-port", 0, "loopback port for etcd clients (required)")
	peerPort := flag.Int("etcd-peer-port", 0, "loopback port for etcd peers (required)")
	flag.Parse()
	if *dataDir == "" || *clientPort == 0 || *peerPort == 0 {
		fmt.Fprintln(os.Stderr, "usage: kube-apiserver --etcd-data-dir DIR --etcd-client-port N --etcd-peer-port N -- <kube-apiserver flags>")
		os.Exit(2)
	}

	etcd, err := startEtcd(*dataDir, *clientPort, *peerPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}

	// The parent holds our stdin open; when it exits, even by SIGKILL, stdin
	// reaches EOF and we stop, so no server outlives the test run.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		etcd.Close()
		os.Exit(0)
	}()

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(append([]string{fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", *clientPort)}, flag.Args()...))
	err = cmd.Execute()
	etcd.Close()
	if err != nil {
		os.Exit(1)
	}
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
