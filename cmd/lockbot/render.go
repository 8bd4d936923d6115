package main

import (
	"encoding/json"
	"regexp"
	"strings"
)

// The demo shows Slack messages in a terminal. These rules turn Block Kit
// JSON and mrkdwn into readable plain text; they are for narration only.
var (
	slackDateToken = regexp.MustCompile(`<!date\^[^|>]*\|([^>]*)>`)
	slackUserToken = regexp.MustCompile(`<@([A-Z0-9]+)>`)
	slackChanToken = regexp.MustCompile(`<#([A-Z0-9]+)(\|[^>]*)?>`)
	slackEmphasis  = regexp.MustCompile(`\*([^*\n]+)\*`)
)

// renderer knows the display names of the simulated workspace.
type renderer struct {
	names map[string]string // user or channel ID → "@alice" / "#it-approvals"
}

func (r renderer) mrkdwn(s string) string {
	s = slackDateToken.ReplaceAllString(s, "$1")
	s = slackUserToken.ReplaceAllStringFunc(s, func(m string) string { return r.name(m[2 : len(m)-1]) })
	s = slackChanToken.ReplaceAllStringFunc(s, func(m string) string {
		id := strings.TrimPrefix(strings.SplitN(m[1:len(m)-1], "|", 2)[0], "#")
		return r.name(id)
	})
	s = slackEmphasis.ReplaceAllString(s, "$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func (r renderer) name(id string) string {
	if n, ok := r.names[id]; ok {
		return n
	}
	return id
}

// block is the part of Block Kit JSON the renderer reads.
type block struct {
	Type     string `json:"type"`
	Text     *text  `json:"text"`
	Fields   []text `json:"fields"`
	Elements []struct {
		Type string `json:"type"`
		Text any    `json:"text"`
	} `json:"elements"`
}

type text struct {
	Text string `json:"text"`
}

// lines renders blocks as indented terminal lines.
func (r renderer) lines(blocks json.RawMessage, fallback string) []string {
	var bs []block
	if err := json.Unmarshal(blocks, &bs); err != nil || len(bs) == 0 {
		return []string{r.mrkdwn(fallback)}
	}
	var out []string
	for _, b := range bs {
		switch b.Type {
		case "header":
			out = append(out, "▍"+r.mrkdwn(b.Text.Text))
		case "section":
			if b.Text != nil {
				out = append(out, strings.Split(r.mrkdwn(b.Text.Text), "\n")...)
			}
			var fs []string
			for _, f := range b.Fields {
				fs = append(fs, strings.Replace(r.mrkdwn(f.Text), "\n", ": ", 1))
			}
			if len(fs) > 0 {
				out = append(out, strings.Join(fs, " · "))
			}
		case "context":
			for _, e := range b.Elements {
				if s, ok := e.Text.(string); ok {
					out = append(out, r.mrkdwn(s))
				}
			}
		case "actions":
			var btns []string
			for _, e := range b.Elements {
				if t, ok := e.Text.(map[string]any); ok && e.Type == "button" {
					label, _ := t["text"].(string)
					btns = append(btns, "[ "+r.mrkdwn(label)+" ]")
				}
			}
			out = append(out, strings.Join(btns, " "))
		}
	}
	return out
}
