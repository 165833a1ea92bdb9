package activities

import (
	"context"
	"database/sql"
	"testing"
)

// EffectThere runs effectThere on a connection to dsn, for the external tests.
func EffectThere(t testing.TB, dsn, stmt string) (there, known bool) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	there, known, err = effectThere(context.Background(), conn, stmt)
	if err != nil {
		t.Fatal(err)
	}
	return there, known
}
