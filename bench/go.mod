module github.com/plexusnet/plexus/bench

go 1.24.0

replace github.com/plexusnet/plexus => ../

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/plexusnet/plexus v0.0.0-00010101000000-000000000000
	github.com/xtaci/smux v1.5.56
	go.nanomsg.org/mangos/v3 v3.4.2
	go.uber.org/goleak v1.3.0
	gonum.org/v1/plot v0.17.0
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/text v0.28.0 // indirect
)
