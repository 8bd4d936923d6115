package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are lockbot's Prometheus counters, on a registry of their own
// (no global registry: two servers in one test process must not collide).
// Labels are fixed words chosen by the code, never user data or secrets.
type metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	decisions      *prometheus.CounterVec
	deviceLocks    *prometheus.CounterVec
	events         *prometheus.CounterVec
	hookDeliveries *prometheus.CounterVec
	recovered      prometheus.Counter
	kandjiRetries  *prometheus.CounterVec
	slackRetries   *prometheus.CounterVec
	lookups        *prometheus.CounterVec
	queued         prometheus.Gauge
	digest         prometheus.Gauge
}

func newMetrics() *metrics {
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lockbot", Name: name, Help: help}, labels)
	}
	m := &metrics{
		registry:       prometheus.NewRegistry(),
		requests:       counterVec("requests_total", "Lock requests opened, by origin (manual, okta).", "origin"),
		decisions:      counterVec("decisions_total", "Decisions on lock requests, by outcome.", "outcome"),
		deviceLocks:    counterVec("device_locks_total", "Devices processed by a lock, by outcome.", "outcome"),
		events:         counterVec("okta_events_total", "Okta events handled, by route (lock, approve, ignore, coalesced).", "route"),
		hookDeliveries: counterVec("hook_deliveries_total", "Okta event hook deliveries, by HTTP status.", "status"),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lockbot", Name: "catchup_recovered_total",
			Help: "Okta events recovered from the System Log that the hook had not delivered."}),
		kandjiRetries: counterVec("kandji_retries_total", "Kandji API calls retried, by route and status (0 = network error).", "route", "status"),
		slackRetries:  counterVec("slack_retries_total", "Slack Web API calls retried, by method.", "method"),
		lookups:       counterVec("device_lookups_total", "Device lookups of automatic locks, by kind (sweep: one inventory sweep for many people; exact: one person).", "kind"),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lockbot", Name: "pipeline_queued_people",
			Help: "People in the automatic-lock pipeline whose outcome is not yet known."}),
		digest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lockbot", Name: "burst_digest_active",
			Help: "1 while a burst digest stands for the individual automatic lock reports."}),
	}
	m.registry.MustRegister(m.requests, m.decisions, m.deviceLocks, m.events, m.hookDeliveries, m.recovered,
		m.kandjiRetries, m.slackRetries, m.lookups, m.queued, m.digest, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The methods below implement bot.Metrics.

func (m *metrics) RequestOpened(origin string) { m.requests.WithLabelValues(origin).Inc() }
func (m *metrics) Decision(outcome string)     { m.decisions.WithLabelValues(outcome).Inc() }
func (m *metrics) DeviceLock(outcome string)   { m.deviceLocks.WithLabelValues(outcome).Inc() }
func (m *metrics) EventHandled(route string)   { m.events.WithLabelValues(route).Inc() }
func (m *metrics) SlackRetry(method string)    { m.slackRetries.WithLabelValues(method).Inc() }
func (m *metrics) Lookup(kind string)          { m.lookups.WithLabelValues(kind).Inc() }
func (m *metrics) Queued(people int)           { m.queued.Set(float64(people)) }

func (m *metrics) DigestActive(on bool) {
	if on {
		m.digest.Set(1)
	} else {
		m.digest.Set(0)
	}
}

func (m *metrics) hookDelivery(status, _ int) {
	m.hookDeliveries.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (m *metrics) catchupRecovered(n int) { m.recovered.Add(float64(n)) }

func (m *metrics) kandjiRetry(_, route string, status int) {
	m.kandjiRetries.WithLabelValues(route, strconv.Itoa(status)).Inc()
}
