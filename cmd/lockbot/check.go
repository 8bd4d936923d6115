package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/lockbot/lockbot/bot"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// nonexistentDevice is a device ID no tenant has. Asking for its unlock PIN
// tells a missing permission (401/403) from a present one (404) without
// touching any real device.
const nonexistentDevice = "00000000-0000-4000-8000-000000000000"

// check validates the configuration and reaches every service with it,
// printing one ✓/✗ line per check. It exits 0 only when all pass.
func check(ctx context.Context, getenv func(string) string, stdout io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			for _, p := range ce.problems {
				fmt.Fprintf(stdout, "✗ configuration: %s\n", p)
			}
		} else {
			fmt.Fprintf(stdout, "✗ configuration: %v\n", err)
		}
		return exitUsage
	}
	fmt.Fprintln(stdout, "✓ configuration: every variable is present and well-formed")
	for _, w := range cfg.advise() {
		fmt.Fprintf(stdout, "! configuration: %s\n", w)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	checks := databaseCheck(ctx, cfg)
	checks = append(checks, bot.Preflight(ctx, botConfig(cfg))...)
	checks = append(checks, kandjiChecks(ctx, cfg)...)
	checks = append(checks, oktaChecks(ctx, cfg)...)
	failed := 0
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(stdout, "✓ %s: %s\n", c.Name, c.Detail)
			continue
		}
		failed++
		line := fmt.Sprintf("✗ %s: %s", c.Name, c.Detail)
		if c.Hint != "" {
			line += " — fix: " + c.Hint
		}
		fmt.Fprintln(stdout, line)
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed\n", failed, len(checks)+1)
		return exitFailed
	}
	fmt.Fprintf(stdout, "all %d checks passed\n", len(checks)+1)
	return exitOK
}

func kandjiChecks(ctx context.Context, cfg config) []bot.Check {
	kc, err := kandji.New(cfg.KandjiAPIURL, cfg.KandjiAPIToken.value(),
		kandji.WithUserAgent("lockbot/"+buildVersion()), kandji.WithRetries(2, 500*time.Millisecond, 2*time.Second))
	if err != nil {
		return []bot.Check{{Name: "Kandji API URL", Detail: err.Error(), Hint: "KANDJI_API_URL is https://SUBDOMAIN.api.kandji.io or https://SUBDOMAIN.api.eu.kandji.io"}}
	}
	list := bot.Check{Name: "Kandji token lists devices", OK: true, Detail: "the tenant has no device yet"}
	for d, err := range kc.Inventory(ctx) {
		if err != nil {
			list = bot.Check{Name: list.Name}
			list.Detail, list.Hint = kandjiProblem(cfg.KandjiAPIURL, err, "Device list")
		} else {
			list.Detail = fmt.Sprintf("read device %q", d.Name)
		}
		break
	}
	pin := bot.Check{Name: "Kandji token reads unlock PINs"}
	_, err = kc.UnlockPIN(ctx, nonexistentDevice)
	switch {
	case errors.Is(err, kandji.ErrNotFound):
		pin.OK = true
		pin.Detail = "a probe of a nonexistent device was allowed (404). The Lock Device permission cannot be checked without locking a device: make sure it is ticked on the token"
	case err == nil:
		pin.Detail = "a probe of a nonexistent device returned a PIN, which is unexpected"
	default:
		pin.Detail, pin.Hint = kandjiProblem(cfg.KandjiAPIURL, err, "Unlock device pin")
	}
	// Lock outcomes are confirmed from the device's command list; without
	// that permission every lock reads "sent, not confirmed".
	cmds := bot.Check{Name: "Kandji token reads device commands"}
	_, err = kc.Commands(ctx, nonexistentDevice)
	switch {
	case errors.Is(err, kandji.ErrNotFound):
		cmds.OK = true
		cmds.Detail = "a probe of a nonexistent device was allowed (404)"
	case err == nil:
		cmds.OK = true
		cmds.Detail = "a probe of a nonexistent device was allowed"
	default:
		cmds.Detail, cmds.Hint = kandjiProblem(cfg.KandjiAPIURL, err, kandji.Permission("/devices/{id}/commands"))
		if errors.Is(err, kandji.ErrUnauthorized) || errors.Is(err, kandji.ErrForbidden) {
			cmds.Hint += " (Kandji does not document that label: it is the permission of GET /devices/{device_id}/commands)"
		}
	}
	return []bot.Check{list, pin, cmds}
}

// kandjiProblem tells a definite refusal of the token (which names
// KANDJI_API_TOKEN and the permission to tick) from Kandji not answering
// (which names the host), so nobody resets a good token over a network
// problem.
func kandjiProblem(baseURL string, err error, permission string) (detail, hint string) {
	switch {
	case errors.Is(err, kandji.ErrUnauthorized):
		return "Kandji refused KANDJI_API_TOKEN (401): " + err.Error(),
			fmt.Sprintf("in Kandji → Access → API Token, create a token with the %q permission and set KANDJI_API_TOKEN to it", permission)
	case errors.Is(err, kandji.ErrForbidden):
		return "Kandji refused KANDJI_API_TOKEN (403): " + err.Error(),
			fmt.Sprintf("in Kandji → Access → API Token, give the token the %q permission", permission)
	case errors.Is(err, kandji.ErrNotFound):
		return err.Error(), "check KANDJI_API_URL: it is the tenant's API URL (SUBDOMAIN.api.kandji.io), not the web app URL"
	}
	host := hostOf(baseURL)
	return fmt.Sprintf("Kandji could not be reached at %s: %v", host, err),
		"check KANDJI_API_URL, DNS, any proxy (HTTPS_PROXY) and that this host may make outbound HTTPS connections to " + host
}

// oktaProblem is kandjiProblem for Okta.
func oktaProblem(orgURL string, err error) (detail, hint string) {
	if errors.Is(err, okta.ErrUnauthorized) {
		return err.Error(), "OKTA_API_TOKEN must be an API token of an admin who can read users and the System Log (Read-only Administrator is enough)"
	}
	host := hostOf(orgURL)
	return fmt.Sprintf("Okta could not be reached at %s: %v", host, err),
		"check OKTA_ORG_URL, DNS, any proxy (HTTPS_PROXY) and that this host may make outbound HTTPS connections to " + host
}

// hostOf is the host of a configured base URL, for messages.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func oktaChecks(ctx context.Context, cfg config) []bot.Check {
	var checks []bot.Check
	if cfg.OktaHookSecret != "" {
		checks = append(checks, bot.Check{Name: "Okta event hook secret", OK: true,
			Detail: fmt.Sprintf("set; /hooks/okta accepts deliveries whose %s header equals it", cfg.OktaHookAuthHeader)})
	} else {
		checks = append(checks, bot.Check{Name: "Okta event hook secret", Detail: "OKTA_HOOK_SECRET is not set, so /hooks/okta answers 404 and Okta events lock nothing",
			Hint: fmt.Sprintf("choose a long random string, set it as OKTA_HOOK_SECRET and as the value of the event hook's %s authentication field in Okta", cfg.OktaHookAuthHeader)})
	}
	if cfg.OktaOrgURL == "" {
		return append(checks, bot.Check{Name: "Okta API access", OK: true, Detail: "not configured (optional): no Okta names on cards and no System Log catch-up"})
	}
	dir, err := okta.NewDirectory(ctx, cfg.OktaOrgURL, cfg.OktaAPIToken.value())
	if err != nil {
		return append(checks, bot.Check{Name: "Okta API access", Detail: err.Error(), Hint: "OKTA_ORG_URL is https://YOURORG.okta.com"})
	}
	if u, err := dir.User(ctx, "me"); err != nil {
		c := bot.Check{Name: "Okta token reads users"}
		c.Detail, c.Hint = oktaProblem(cfg.OktaOrgURL, err)
		checks = append(checks, c)
	} else {
		checks = append(checks, bot.Check{Name: "Okta token reads users", OK: true, Detail: "token belongs to " + strings.TrimSpace(u.Login)})
	}
	if err := dir.Check(ctx); err != nil {
		c := bot.Check{Name: "Okta token reads the System Log"}
		c.Detail, c.Hint = oktaProblem(cfg.OktaOrgURL, err)
		checks = append(checks, c)
	} else {
		checks = append(checks, bot.Check{Name: "Okta token reads the System Log", OK: true, Detail: "one log event read"})
	}
	return checks
}
