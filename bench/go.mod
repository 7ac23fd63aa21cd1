module github.com/plexusnet/plexus/bench

go 1.24.0

replace github.com/plexusnet/plexus => ../

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/plexusnet/plexus v0.0.0-00010101000000-000000000000
	github.com/xtaci/smux v1.5.56
	go.nanomsg.org/mangos/v3 v3.4.2
	go.uber.org/goleak v1.3.0
)
