package bot

import (
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
)

func TestForeign(t *testing.T) {
	single := &homeTeam{team: "T1"}
	grid := &homeTeam{team: "T1", enterprise: "E1"}
	tests := []struct {
		name string
		u    slack.User
		home *homeTeam
		want bool
	}{
		{"own workspace", slack.User{TeamID: "T1"}, single, false},
		{"no team given", slack.User{}, single, false},
		{"home not known yet", slack.User{TeamID: "T2"}, nil, false},
		{"stranger", slack.User{TeamID: "T1", IsStranger: true}, single, true},
		{"slack connect partner", slack.User{TeamID: "T2"}, single, true},
		{"grid colleague from another workspace", slack.User{TeamID: "T2", Enterprise: slack.EnterpriseUser{EnterpriseID: "E1"}}, grid, false},
		{"another grid org", slack.User{TeamID: "T2", Enterprise: slack.EnterpriseUser{EnterpriseID: "E2"}}, grid, true},
		{"partner without grid, bot in a grid", slack.User{TeamID: "T2"}, grid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, foreign(&tt.u, tt.home))
		})
	}
}
