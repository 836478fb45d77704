module github.com/shunhui19/goes/daemon

go 1.22
