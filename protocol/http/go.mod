module github.com/shunhui19/goes/protocol/http

go 1.22

require github.com/shunhui19/goes/core v0.0.0

replace (
	github.com/shunhui19/goes/core => ../../core
	github.com/shunhui19/goes/daemon => ../../daemon
)
