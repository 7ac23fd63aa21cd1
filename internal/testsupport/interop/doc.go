// Package interop holds no code, only the interoperability matrix: tests
// that run every plexus protocol against the reference implementations
// of the SP protocols, NNG's nngcat and nanomsg's nanocat, over tcp://
// and ipc://, with plexus dialing and with plexus listening, and
// messages flowing in every direction the protocol allows.
//
// The tests skip, saying so, when a tool is not installed (Debian:
// apt-get install nng-utils nanomsg-utils). req/rep against nngcat is
// tested beside the code, in protocol/req (TestNNGRep) and protocol/rep
// (TestNNGReq); everything else is here.
package interop
