package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/bot"
)

// openStore opens the shared Postgres store when LOCKBOT_DATABASE_URL is
// set, and otherwise the embedded store in LOCKBOT_STATE_DIR, importing
// the state files of an older lockbot the first time.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (approvals.Store, error) {
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, cfg.DatabaseURL.value(), postgres.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("LOCKBOT_DATABASE_URL: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, cfg.StateDir, sqlite.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("LOCKBOT_STATE_DIR: %w", err)
	}
	if err := importLegacy(ctx, s, cfg.StateDir, cfg.ApprovalChannel, log); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("LOCKBOT_STATE_DIR: importing the state files of an older lockbot: %w", err)
	}
	return s, nil
}

// databaseCheck reaches the shared store, when one is configured, and
// says what is on it: its schema, the replicas alive and who leads what.
// Opening it runs any migration this build brings, as serve would.
func databaseCheck(ctx context.Context, cfg config) []bot.Check {
	if cfg.DatabaseURL == "" {
		return []bot.Check{{Name: "store", OK: true, Detail: "embedded SQLite in " + cfg.StateDir + " (one replica; LOCKBOT_DATABASE_URL for several)"}}
	}
	c := bot.Check{Name: "Postgres database"}
	s, err := postgres.Open(ctx, cfg.DatabaseURL.value(), postgres.Options{})
	if err != nil {
		c.Detail = err.Error()
		c.Hint = "check LOCKBOT_DATABASE_URL (host, port, user, password, database, sslmode) and that this host may reach the database"
		return []bot.Check{c}
	}
	defer s.Close()
	info, err := s.Describe(ctx)
	if err != nil {
		c.Detail = "reached, but could not be read: " + err.Error()
		return []bot.Check{c}
	}
	alive := 0
	for _, r := range info.Replicas {
		if r.Alive && r.ID != info.Replica {
			alive++
		}
	}
	var leads []string
	for _, l := range info.Leases {
		if l.Held {
			leads = append(leads, fmt.Sprintf("%s by %s", l.Name, l.Holder))
		}
	}
	lead := "nobody leads yet"
	if len(leads) > 0 {
		lead = "leads: " + strings.Join(leads, ", ")
	}
	c.OK = true
	c.Detail = fmt.Sprintf("Postgres %s, schema %d, %d replica(s) alive by their heartbeats, %s; database clock %s",
		info.ServerVersion, info.SchemaVersion, alive, lead, info.Now.UTC().Format(time.RFC3339))
	return []bot.Check{c}
}
