package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lockbot/lockbot/okta"
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
	digest         prometheus.Gauge
	catchupErrors  prometheus.Counter
	catchupSuccess prometheus.Gauge
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
		catchupErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lockbot", Name: "catchup_errors_total",
			Help: "System Log catch-up polls that failed."}),
		catchupSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lockbot", Name: "catchup_last_success_timestamp_seconds",
			Help: "When a System Log catch-up poll last succeeded, as a Unix time."}),
		digest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lockbot", Name: "burst_digest_active",
			Help: "1 while a burst digest stands for the individual automatic lock reports."}),
	}
	m.registry.MustRegister(m.requests, m.decisions, m.deviceLocks, m.events, m.hookDeliveries, m.recovered,
		m.kandjiRetries, m.slackRetries, m.lookups, m.digest, m.catchupErrors, m.catchupSuccess, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The methods below implement bot.Metrics.

func (m *metrics) RequestOpened(origin string) { m.requests.WithLabelValues(origin).Inc() }
func (m *metrics) Decision(outcome string)     { m.decisions.WithLabelValues(outcome).Inc() }
func (m *metrics) DeviceLock(outcome string)   { m.deviceLocks.WithLabelValues(outcome).Inc() }
func (m *metrics) EventHandled(route string)   { m.events.WithLabelValues(route).Inc() }
func (m *metrics) SlackRetry(method string)    { m.slackRetries.WithLabelValues(method).Inc() }
func (m *metrics) Lookup(kind string)          { m.lookups.WithLabelValues(kind).Inc() }

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

// catchupPolled counts a failed poll, or records when one succeeded.
func (m *metrics) catchupPolled(r okta.PollReport) {
	if r.Err != nil {
		m.catchupErrors.Inc()
		return
	}
	m.catchupSuccess.Set(float64(r.LastSuccess.Unix()))
}

func (m *metrics) kandjiRetry(_, route string, status int) {
	m.kandjiRetries.WithLabelValues(route, strconv.Itoa(status)).Inc()
}
