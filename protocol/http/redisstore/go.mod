module github.com/shunhui19/goes/protocol/http/redisstore

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/protocol/http v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/daemon v0.2.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../../../core
	github.com/shunhui19/goes/daemon => ../../../daemon
	github.com/shunhui19/goes/protocol/http => ..
	github.com/shunhui19/goes/transport/tcp => ../../../transport/tcp
)
