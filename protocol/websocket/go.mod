module github.com/shunhui19/goes/protocol/websocket

go 1.22

require (
	github.com/coder/websocket v1.8.13
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.4.0
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/protocol/http v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/daemon v0.2.0 // indirect
	golang.org/x/sys v0.25.0 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../../core
	github.com/shunhui19/goes/daemon => ../../daemon
	github.com/shunhui19/goes/protocol/http => ../http
	github.com/shunhui19/goes/transport/tcp => ../../transport/tcp
)
