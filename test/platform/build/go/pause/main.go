// Command pause holds a Pod's namespaces for the local node's containerd: it only
// waits for SIGTERM or SIGINT (as the upstream pause image does) and exits 0.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
