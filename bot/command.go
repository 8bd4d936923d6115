package bot

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lockbot/lockbot/approvals"
)

// commandKind is what a person asked the slash command to do. The values
// are stored with the command's trigger.
type commandKind string

const (
	cmdHelp   commandKind = "help"
	cmdLock   commandKind = "lock"
	cmdStatus commandKind = "status"
	cmdPins   commandKind = "pins"
)

// maxReasonRunes bounds the free-text reason; it is shown on the card and
// written to the journal, so it must stay a sentence, not a document.
const maxReasonRunes = 500

// command is a parsed slash-command invocation.
type command struct {
	Kind   commandKind
	Email  string // the target, in approvals.EmailKey form, for every kind but help
	Reason string
}

// errUsage marks input that is not a command at all; its message is shown
// to the person together with the usage text.
var errUsage = errors.New("usage")

// parseCommand turns the text after the slash command into a command.
func parseCommand(text string) (command, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return command{Kind: cmdHelp}, nil
	}
	switch approvals.EmailKey(fields[0]) {
	case "help", "-h", "--help", "?":
		return command{Kind: cmdHelp}, nil
	case "status", "pins":
		kind := commandKind(approvals.EmailKey(fields[0]))
		if len(fields) != 2 {
			return command{}, fmt.Errorf("%w: %s takes exactly one email address", errUsage, kind)
		}
		email, err := approvals.ParseEmail(fields[1])
		if err != nil {
			return command{}, err
		}
		return command{Kind: kind, Email: email}, nil
	}
	email, err := approvals.ParseEmail(fields[0])
	if err != nil {
		return command{}, err
	}
	reason := strings.Join(fields[1:], " ")
	if utf8.RuneCountInString(reason) > maxReasonRunes {
		return command{}, fmt.Errorf("%w: the reason is longer than %d characters", errUsage, maxReasonRunes)
	}
	return command{Kind: cmdLock, Email: email, Reason: reason}, nil
}

// usageProblem is err as the person is shown it.
func usageProblem(err error) string {
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
	}
	return msg
}
