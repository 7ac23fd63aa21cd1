module github.com/plexusnet/plexus

go 1.24.0

require (
	github.com/coder/websocket v1.8.15
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.50.0
)
