package activities_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// go-register-server 0.9.0's answer to GET /eureka/apps (pkg/eureka/apps/types.go):
// the guide prints only one element of it.
const eurekaApps = `{"applications":{"application":[
 {"name":"manager-service","instance":[{"app":"manager-service","status":"UP","metadata":{"VERSION":"0.9.0"}}]},
 {"name":"go-register-server","instance":[
   {"instanceId":"10.0.0.9:go-register-server:8000","app":"go-register-server","status":"UP","metadata":{"VERSION":"0.8.0"}},
   {"instanceId":"10.0.0.7:go-register-server:8000","app":"go-register-server","status":"UP","metadata":{"VERSION":"0.9.0"}}]}],
 "apps__hashcode":"app_hashcode","versions__delta":2}}`

func TestJSONElementFindsOneInstanceByAllItsFields(t *testing.T) {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(eurekaApps), &doc))
	e := activities.JSONElement{Path: "applications.application.*.instance.*",
		Where: map[string]string{"app": "go-register-server", "status": "UP", "metadata.VERSION": "0.9.0"}}
	require.True(t, e.In(doc), "the new register's instance is listed")
	e.Where["metadata.VERSION"] = "0.9.1"
	require.False(t, e.In(doc), "no instance at that version")
	e.Where = map[string]string{"app": "manager-service", "metadata.VERSION": "0.8.0"}
	require.False(t, e.In(doc), "fields of different elements do not add up")
	require.False(t, activities.JSONElement{Path: "instance.*", Where: map[string]string{"status": "UP"}}.In(doc),
		"the guide's excerpt is not the server's answer")
	require.Equal(t, "applications.application.*.instance.* with app=manager-service metadata.VERSION=0.8.0", e.String())
}
