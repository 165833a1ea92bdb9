package workflows

import (
	"strings"

	"upgrader/activities"
	"upgrader/config"
)

// DBServer is a database server the worker connects to (a backup, a DDL
// script, a check): the same three keys in every guide's config.
type DBServer struct {
	// Address is host:port as the worker reaches the server.
	Address     string `mapstructure:"address" json:"address"`
	User        string `mapstructure:"user" json:"user"`
	PasswordRef string `mapstructure:"passwordRef" json:"passwordRef"`
}

// mysql is the activities' MySQL target for the server, named name.
func (d DBServer) mysql(name string) activities.DBTarget {
	return activities.DBTarget{Name: name, Address: d.Address, User: d.User, PasswordRef: d.PasswordRef}
}

// check reports the server's problems under key (mysql → mysql.address,
// mysql.user, mysql.passwordRef). example is an address to show; holds
// says whose password passwordRef names. With anonymous, a server without
// authentication (neither user nor passwordRef) is fine.
func (d DBServer) check(p *config.Problems, key, example, holds string, anonymous bool) {
	config.CheckHostPort(p, key+".address", d.Address, example)
	switch {
	case d.User == "" && anonymous && d.PasswordRef == "":
		return
	case d.User == "" && anonymous:
		p.Add(key+".passwordRef", "is set but user is empty: give the user, or neither for a server without authentication")
		return
	case d.User == "":
		p.Add(key+".user", "is empty; give the account the worker connects as (%s)", holds)
	case strings.ContainsAny(d.User, " \t'\"\\`"):
		p.Add(key+".user", "%q: a user name has no spaces, quotes or backslashes", d.User)
	}
	checkSecretRef(p, key+".passwordRef", d.PasswordRef, "the password of "+holds)
}
