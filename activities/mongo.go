package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/temporal"

	"upgrader/config"
	"upgrader/internal/contract"
)

// MongoTarget is a MongoDB server as a step's input carries it.
type MongoTarget struct {
	Name string `json:"name"`
	// Address is host:port.
	Address     string `json:"address"`
	User        string `json:"user,omitempty"`
	PasswordRef string `json:"passwordRef,omitempty"`
	// AuthSource is the authentication database; empty means admin.
	AuthSource string `json:"authSource,omitempty"`
	// AuthMechanism (SCRAM-SHA-256, PLAIN, …); empty lets client and server agree.
	AuthMechanism string `json:"authMechanism,omitempty"`
}

// String names the server for messages.
func (t MongoTarget) String() string {
	if t.Name != "" {
		return t.Name + " (" + t.Address + ")"
	}
	return t.Address
}

// Mongo runs MongoDB steps: pre-flight through the driver, and the guide's
// mongodump on the Mongo host over SSH.
type Mongo struct {
	Secrets Secrets
	Scrub   Scrubber
	Host    *Host
}

func (m *Mongo) scrub(s string) string { return scrubText(m.Scrub, s) }

func (m *Mongo) connect(ctx context.Context, t MongoTarget) (*mongo.Client, error) {
	if t.Address == "" {
		return nil, invalid("mongo server %q has no address", t.Name)
	}
	opts := options.Client().SetHosts([]string{t.Address}).SetDirect(true).
		SetServerSelectionTimeout(10 * time.Second).SetConnectTimeout(10 * time.Second)
	if t.User != "" {
		pw, err := resolveSecretFor(m.Secrets, t.PasswordRef, config.SecretUse{Kind: config.UseMongo})
		if err != nil {
			return nil, err
		}
		src := t.AuthSource
		if src == "" {
			src = "admin"
		}
		opts.SetAuth(options.Credential{Username: t.User, Password: pw, AuthSource: src, AuthMechanism: t.AuthMechanism})
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, invalid("mongo server %s: %v", t, err)
	}
	if err := c.Ping(ctx, nil); err != nil {
		_ = c.Disconnect(context.Background())
		msg := m.scrub(fmt.Sprintf("unable to reach mongo server %s: %v", t, err))
		if strings.Contains(err.Error(), "auth") {
			return nil, temporal.NewNonRetryableApplicationError(msg+"; check the user and the secret "+t.PasswordRef, ErrDBAuthFailed, nil)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return c, nil
}

// MongoPreflightInput says what a guide needs of the server.
type MongoPreflightInput struct {
	DB MongoTarget `json:"db"`
	// RequireOplog fails unless the server is a replica-set member with an
	// oplog: `mongodump --oplog` needs one.
	RequireOplog bool `json:"requireOplog,omitempty"`
}

// MongoPreflightResult describes the server.
type MongoPreflightResult struct {
	contract.Outcome
	Version    string   `json:"version"`
	Databases  []string `json:"databases"`
	ReplicaSet string   `json:"replicaSet,omitempty"`
	Oplog      bool     `json:"oplog"`
}

// Server selection waits up to 10 s for a server that does not answer; the
// try heartbeats meanwhile.
var _ = contract.Declare((*Mongo).PreflightMongo, contract.Options{Heartbeat: 20 * time.Second})

// PreflightMongo pings, reads the version and the databases, and checks for a
// replica set and its oplog.
func (m *Mongo) PreflightMongo(ctx context.Context, in MongoPreflightInput) (MongoPreflightResult, error) {
	var res MongoPreflightResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = m.preflight(ctx, in)
		return err
	})
	return res, err
}

func (m *Mongo) preflight(ctx context.Context, in MongoPreflightInput) (MongoPreflightResult, error) {
	c, err := m.connect(ctx, in.DB)
	if err != nil {
		return MongoPreflightResult{}, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	var res MongoPreflightResult
	var info struct {
		Version string `bson:"version"`
	}
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return res, fmt.Errorf("unable to read the version of %s: %w", in.DB, err)
	}
	res.Version = info.Version
	if res.Databases, err = c.ListDatabaseNames(ctx, bson.D{}); err != nil {
		return res, fmt.Errorf("unable to list the databases of %s: %w", in.DB, err)
	}
	sort.Strings(res.Databases)
	var hello struct {
		SetName string `bson:"setName"`
	}
	_ = c.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello)
	res.ReplicaSet = hello.SetName
	if res.ReplicaSet != "" {
		names, err := c.Database("local").ListCollectionNames(ctx, bson.D{{Key: "name", Value: "oplog.rs"}})
		res.Oplog = err == nil && len(names) == 1
	}
	if in.RequireOplog && !res.Oplog {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s is not a replica-set member with an oplog (replica set %q), so the guide's `mongodump --oplog` cannot run; "+
				"drop --oplog for a standalone server (the dump is then not a point-in-time copy) or point at a replica-set member",
			in.DB, res.ReplicaSet), contract.ErrPrecondition, nil, res)
	}
	res.Summary = fmt.Sprintf("mongo %s, %d databases, replica set %q, oplog %v", res.Version, len(res.Databases), res.ReplicaSet, res.Oplog)
	return res, nil
}

// collections lists db/collection for every database mongodump dumps (all
// but local), leaving out system collections.
func (m *Mongo) collections(ctx context.Context, t MongoTarget, dbs []string) ([]string, error) {
	c, err := m.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	var out []string
	for _, db := range dbs {
		if db == "local" || db == "config" {
			continue
		}
		names, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("unable to list the collections of %s on %s: %w", db, t, err)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "system.") {
				out = append(out, db+"/"+n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
