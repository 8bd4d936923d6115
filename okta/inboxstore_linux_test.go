package okta

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInboxPartialWriteIsCutOff makes a log append fail half-way (the file
// size limit; Go ignores SIGXFSZ, so write returns EFBIG) and checks the
// partial line is removed, so the next acknowledged record is not glued to
// garbage and lost as a "torn" line on restart.
func TestInboxPartialWriteIsCutOff(t *testing.T) {
	dir := t.TempDir()
	in, err := OpenInbox(dir)
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("a"))
	require.NoError(t, err)

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	limited := old
	limited.Cur = uint64(in.store.size) + 64
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited))
	big := ev("big")
	big.Message = strings.Repeat("m", 4096)
	_, err = in.Admit(context.Background(), []Event{big})
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
	require.ErrorIs(t, err, syscall.EFBIG)
	assert.Equal(t, 1, in.Len())

	_, err = in.Admit(context.Background(), evs("b"))
	require.NoError(t, err)
	require.NoError(t, in.Close())

	in2 := openTestInbox(t, dir)
	assert.Equal(t, []string{"a", "b"}, uuidsOf(takeN(t, in2, 2)))
	got, err := in2.Admit(context.Background(), []Event{big})
	require.NoError(t, err)
	assert.Len(t, got, 1, "the failed admission was not recorded")
}
