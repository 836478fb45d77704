module github.com/shunhui19/goes/tools

go 1.26.0

require (
	github.com/gobwas/ws v1.4.0
	github.com/lesismal/nbio v1.6.8
	github.com/panjf2000/gnet/v2 v2.9.7
	github.com/shunhui19/goes/core v0.2.0
	github.com/shunhui19/goes/metrics v0.2.0
	github.com/shunhui19/goes/protocol/http v0.2.0
	github.com/shunhui19/goes/protocol/websocket v0.2.0
	github.com/shunhui19/goes/transport/tcp v0.2.0
	github.com/valyala/fasthttp v1.78.0
	go.uber.org/goleak v1.3.0
	golang.org/x/mod v0.42.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nats-server/v2 v2.15.3 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/time v0.16.0 // indirect
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/kardianos/osext v0.0.0-20190222173326-2bc1f35cddc0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/lesismal/llib v1.2.2 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	github.com/panjf2000/ants/v2 v2.11.3 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/sevlyar/go-daemon v0.1.6 // indirect
	github.com/shunhui19/goes/cluster v0.2.0
	github.com/shunhui19/goes/daemon v0.2.0 // indirect
	github.com/shunhui19/goes/protocol/text v0.2.0
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.50.0
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)

replace (
	github.com/shunhui19/goes/core => ../core
	github.com/shunhui19/goes/daemon => ../daemon
	github.com/shunhui19/goes/metrics => ../metrics
	github.com/shunhui19/goes/protocol/http => ../protocol/http
	github.com/shunhui19/goes/protocol/text => ../protocol/text
	github.com/shunhui19/goes/protocol/websocket => ../protocol/websocket
	github.com/shunhui19/goes/transport/tcp => ../transport/tcp
	github.com/shunhui19/goes/transport/udp => ../transport/udp
)

replace github.com/shunhui19/goes/cluster => ../cluster
