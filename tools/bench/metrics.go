package main

import (
	"io"
	"net/http"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
)

// withMetrics ends the name of an engine whose Goer exports Prometheus
// metrics while it is measured.
const withMetrics = "+metrics"

// scrapeEvery is how often the server's metrics are scraped during a run:
// a Prometheus that scrapes every second, fifteen times its default.
const scrapeEvery = time.Second

// startWithMetrics starts g with its metrics served on a loopback port and
// scraped every scrapeEvery from this process, so that the scrapes' cost
// counts as the server's.
func startWithMetrics(g *core.Goer) (func(), error) {
	m := metrics.New(g)
	mg := m.Goer("127.0.0.1:0")
	mg.Logger = g.Logger
	if err := g.Start(); err != nil {
		return nil, err
	}
	if err := mg.Start(); err != nil {
		g.Stop()
		return nil, err
	}
	url := "http://" + mg.Addr().String() + metrics.Path
	done := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		cl := &http.Client{Timeout: 5 * time.Second}
		tick := time.NewTicker(scrapeEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if resp, err := cl.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return func() {
		close(done)
		<-scraped
		mg.Stop()
		g.Stop()
	}, nil
}
