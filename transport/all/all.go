// Package all registers every transport that can register itself:
// inproc://, ipc://, tcp://, tls+tcp:// and ws://. Import it for its side
// effect,
//
//	import _ "github.com/plexusnet/plexus/transport/all"
//
// or import only the transports a program uses (a program without ws://
// does not link the websocket library). The mesh:// transport is not here:
// it needs a *mesh.Node, given to a socket with socket.WithTransport
// (see package transport/mesh).
package all

import (
	// Each registers its scheme in its init function.
	_ "github.com/plexusnet/plexus/transport/inproc"
	_ "github.com/plexusnet/plexus/transport/ipc"
	_ "github.com/plexusnet/plexus/transport/tcp"
	_ "github.com/plexusnet/plexus/transport/tlstcp"
	_ "github.com/plexusnet/plexus/transport/ws"
)
