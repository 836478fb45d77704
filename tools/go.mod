module github.com/shunhui19/goes/tools

go 1.26
