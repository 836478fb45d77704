module github.com/shunhui19/goes/metrics

go 1.26.0

require (
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.73.1
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/daemon v0.2.0
	github.com/shunhui19/goes/protocol/http v0.2.0
	github.com/shunhui19/goes/protocol/text v0.2.0
	github.com/shunhui19/goes/protocol/websocket v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/gobwas/ws v1.4.0 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../core
	github.com/shunhui19/goes/daemon => ../daemon
	github.com/shunhui19/goes/protocol/http => ../protocol/http
	github.com/shunhui19/goes/protocol/text => ../protocol/text
	github.com/shunhui19/goes/protocol/websocket => ../protocol/websocket
	github.com/shunhui19/goes/transport/tcp => ../transport/tcp
)
