// Package slackfake is a fake Slack workspace for one app: the Web API methods
// lockbot calls, the response_url endpoint, and a Socket Mode WebSocket that
// delivers slash commands and button clicks and collects the app's acks.
//
// It exists so that the bot's end-to-end tests and the credential-free
// `lockbot demo` can drive the real slack-go client against something that
// speaks Slack's wire formats, enforces the Block Kit limits that production
// Slack enforces, and records everything the app says so tests can assert on
// it (and scan it for secrets). It deliberately does not import slack-go: it
// plays the remote side and speaks JSON, so a slack-go behaviour change shows
// up as a failing test instead of being hidden by shared types.
//
// A Server is started by New and owns every goroutine it starts; Close stops
// the HTTP server, closes the sockets and waits for all of them. Every method
// is safe for concurrent use.
package slackfake
