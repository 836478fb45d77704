module github.com/shunhui19/goes/cluster

go 1.26.0

require (
	github.com/shunhui19/goes/core v0.0.0
	github.com/shunhui19/goes/protocol/text v0.0.0
	github.com/shunhui19/goes/transport/tcp v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/RussellLuo/timingwheel v0.0.0-20220218152713-54845bda3108 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/daemon v0.0.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/shunhui19/goes/core => ../core

replace github.com/shunhui19/goes/daemon => ../daemon

replace github.com/shunhui19/goes/protocol/text => ../protocol/text

replace github.com/shunhui19/goes/transport/tcp => ../transport/tcp
