module github.com/shunhui19/goes/transport/udp

go 1.22

require (
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
)

require (
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/daemon v0.2.0 // indirect
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.25.0 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../../core
	github.com/shunhui19/goes/daemon => ../../daemon
	github.com/shunhui19/goes/transport/tcp => ../tcp
)
