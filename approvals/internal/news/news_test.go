package news

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNews(t *testing.T) {
	var n News
	n.Tell() // nobody waits: nothing to close, nothing breaks
	a, b := n.Next(), n.Next()
	assert.Equal(t, a, b, "waiters before a Tell share one channel")
	select {
	case <-a:
		t.Fatal("closed before any news")
	default:
	}
	n.Tell()
	<-a
	<-b
	c := n.Next()
	assert.NotEqual(t, a, c, "after the news, the next waiter waits for the next")
	select {
	case <-c:
		t.Fatal("a new waiter saw old news")
	default:
	}
}
