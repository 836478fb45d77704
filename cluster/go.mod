module github.com/shunhui19/goes/cluster

go 1.26.0

require (
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.55.0
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/protocol/text v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/daemon v0.2.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/shunhui19/goes/core => ../core

replace github.com/shunhui19/goes/daemon => ../daemon

replace github.com/shunhui19/goes/protocol/text => ../protocol/text

replace github.com/shunhui19/goes/transport/tcp => ../transport/tcp
