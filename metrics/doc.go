// Package metrics exports a goes server's counters to Prometheus.
//
// New makes a registry with collectors for the given Goers, the Go runtime
// and the process. The Goers' counters (connections, bytes, messages,
// errors, panics, timers) are read from goes itself when Prometheus
// scrapes: nothing is counted twice. HTTP and WebSocket Goers also report
// requests by method and status class with a latency histogram, and
// WebSocket frames by type and close codes, through the protocols'
// Observer hooks, which New sets.
//
// Serve the metrics on an address of their own with the Goer that Goer
// returns; run it with the server's other Goers, so that it starts, is
// handed to the new process on reload and stops with them:
//
//	app := core.NewGoer("0.0.0.0:8080", websocket.New(), "tcp")
//	m := metrics.New(app)
//	core.RunAll(app, m.Goer("127.0.0.1:9100")) // http://127.0.0.1:9100/metrics
//
// or mount them on an HTTP Goer of the program's own:
//
//	if http.RequestOf(c).Path() == "/metrics" {
//		m.Serve(c)
//		return
//	}
//
// Only a program that imports this package carries Prometheus code.
//
// # Metrics
//
// Every Goer's metrics carry the labels goer (its name), transport and
// protocol:
//
//	goes_connections_open               gauge    open stream connections
//	goes_connections_accepted_total     counter  connections accepted
//	goes_connections_rejected_total     counter  refused by MaxConnections
//	goes_connections_closed_total       counter  connections ended
//	goes_read_bytes_total               counter  bytes read from peers
//	goes_written_bytes_total            counter  bytes written to peers
//	goes_messages_received_total        counter  messages handed to OnMessage
//	goes_messages_sent_total            counter  messages queued by Send
//	goes_send_buffer_full_total         counter  send queues that reached MaxSendBufferSize
//	goes_send_failures_total            counter  sends refused
//	goes_datagrams_dropped_total        counter  datagrams dropped (UDP)
//	goes_errors_total{error}            counter  OnError reports by code (send_fail, protocol, io, ...)
//	goes_panics_recovered_total         counter  callback panics recovered
//	goes_timers_pending                 gauge    tasks on the Goer's timing wheel
//	goes_goer_running                   gauge    1 while the Goer serves
//	goes_goer_start_time_seconds        gauge    when the Goer started listening
//	goes_http_requests_total{method,code}            counter    responses by method and status class (2xx)
//	goes_http_request_duration_seconds{method}       histogram  from the request's delivery to its response
//	goes_websocket_messages_total{direction,type}    counter    messages and control frames, received or sent
//	goes_websocket_closes_total{code}                counter    connections ended, by close code
//
// A request is timed from its delivery to the handler until its response
// was queued; pipelined requests read together are delivered, and timed,
// from the moment the response before them was queued. Counting a response
// costs two atomic adds, on counters the module keeps itself, and the
// responses to the pipelined requests of one read are counted together
// (http.BatchObserver); the histograms are built from the counters when
// Prometheus scrapes.
//
// For the process: goes_build_info{version}, goes_reloads_total (reloads
// that led to this process), and the standard go_* and process_*
// collectors.
package metrics
