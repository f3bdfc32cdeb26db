// The pause program of the local node's sandbox image (see images.ts).
module github.com/vgijssel/setup/test/local/pause

go 1.24.0
