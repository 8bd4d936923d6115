// Package slackfake is a fake Slack workspace for one app: the Web API methods
// lockbot calls, the response_url endpoint, and a Socket Mode WebSocket that
// delivers slash commands, button clicks and events and collects the app's
// acks.
//
// It exists so that the bot's end-to-end tests and the credential-free
// `lockbot demo` can drive the real slack-go client against something that
// speaks Slack's wire formats and records everything the app says so tests
// can assert on it (and scan it for secrets). It deliberately does not
// import slack-go: it plays the remote side and speaks JSON, so a slack-go
// behaviour change shows up as a failing test instead of being hidden by
// shared types.
//
// The fake is as strict as Slack by default, because bugs hide where a fake
// is lenient:
//
//   - the bot token has exactly ManifestScopes, and a method needing another
//     scope answers missing_scope with "needed" and "provided";
//   - the bot is a member only of the channels declared so (WithChannels, or
//     Channel.BotMember), people only of the channels they are put in, and
//     posting, editing or whispering elsewhere answers not_in_channel or
//     user_not_in_channel;
//   - blocks are checked against Block Kit's limits and rules and refused
//     with invalid_blocks and Slack's json-pointer details, and text past
//     40,000 characters is cut as Slack cuts it;
//   - an envelope must be acked within 3 s on the connection that received
//     it, or the delivery fails (events are redelivered with retry_attempt);
//   - a response_url works 5 times within 30 minutes;
//   - chat.postMessage is held to about one message a second per channel
//     (after a burst of three), other methods to their rate tier, and a
//     call over the limit answers HTTP 429 with Retry-After.
//
// A harness models a correctly installed app with a few options, for
// example:
//
//	slackfake.New(
//		slackfake.WithUsers(users...),
//		slackfake.WithChannels(approvalChannel, notifyChannel), // the bot was invited
//		slackfake.WithChannelMembers(approvalChannel, approvers...),
//	)
//
// A Server is started by New and owns every goroutine it starts; Close stops
// the HTTP server, closes the sockets and waits for all of them. Every method
// is safe for concurrent use.
package slackfake
