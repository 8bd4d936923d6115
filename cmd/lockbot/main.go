// Command lockbot locks a person's company Apple devices through Kandji,
// from Slack (/lock, with two-person approval) and from Okta security
// events, sending the Mac unlock PINs to the approver alone by DM.
//
// Subcommands: serve (the default), check, manifest, demo, audit and
// version. Configuration comes from the environment; see the README.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: 0 success, 1 the work failed, 2 the invocation or the
// configuration is wrong.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `lockbot locks a person's company Apple devices through Kandji, from Slack and Okta.

Usage:
  lockbot [serve]     run the bot (configuration from the environment; see README)
  lockbot check       validate the configuration and reach Slack, Kandji and Okta
  lockbot manifest    print the Slack app manifest (uses LOCKBOT_COMMAND if set)
  lockbot demo        walk through a manual and an automatic lock against simulated Slack and Kandji
  lockbot audit [--since DURATION] [--csv] [--target EMAIL] [--id ID]
                      print the audit journal from LOCKBOT_STATE_DIR
  lockbot version     print the version
`

// run is the whole program behind main, with its inputs and outputs
// passed in so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "check":
		return check(ctx, getenv, stdout)
	case "manifest":
		command := getenv("LOCKBOT_COMMAND")
		if command == "" {
			command = "/lock"
		}
		if !slashName.MatchString(command) {
			// Slack would refuse the manifest; say why here instead.
			fmt.Fprintf(stderr, "lockbot manifest: LOCKBOT_COMMAND %q must be a slash command such as /lock (lower case letters, digits, - and _, at most 32 characters)\n", command)
			return exitUsage
		}
		if err := writeManifest(stdout, command); err != nil {
			return exitFailed
		}
		return exitOK
	case "demo":
		return demo(ctx, stdout, stderr)
	case "audit":
		return audit(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "lockbot", buildVersion())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "lockbot: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}
