package activities_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/internal/contract"
)

// A repeatable call to a service that works before it answers (wiki-service
// refreshing every home page): with AnswerTimeout the answer is waited for,
// sent once; without, the worker's client gives up. The client's limit is
// scaled down (200 ms for 10 s).
func TestHTTPCallWaitsForASlowAnswerWhenToldTo(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(600 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	h := &activities.HTTP{Client: &http.Client{Timeout: 200 * time.Millisecond}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)

	call := activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/wiki/v1/wiki/page", ExpectStatus: []int{http.StatusCreated},
		Repeatable: activities.Repeat(true)}
	_, err := env.ExecuteActivity(h.Call, call)
	require.Error(t, err, "the client's own limit cuts the answer")

	calls.Store(0)
	call.AnswerTimeout = contract.Duration(5 * time.Second)
	v, err := env.ExecuteActivity(h.Call, call)
	require.NoError(t, err)
	var res activities.HTTPCallResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, http.StatusCreated, res.Status)
	require.Equal(t, int32(1), calls.Load())
}
