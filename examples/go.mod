module github.com/shunhui19/goes/examples

go 1.22

require (
	github.com/shunhui19/goes/core v0.0.0
	github.com/shunhui19/goes/protocol/http v0.0.0
	github.com/shunhui19/goes/protocol/text v0.0.0
	github.com/shunhui19/goes/transport/tcp v0.0.0
	github.com/shunhui19/goes/transport/udp v0.0.0
)

require (
	github.com/RussellLuo/timingwheel v0.0.0-20220218152713-54845bda3108 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../core
	github.com/shunhui19/goes/daemon => ../daemon
	github.com/shunhui19/goes/protocol/http => ../protocol/http
	github.com/shunhui19/goes/protocol/text => ../protocol/text
	github.com/shunhui19/goes/transport/tcp => ../transport/tcp
	github.com/shunhui19/goes/transport/udp => ../transport/udp
)
